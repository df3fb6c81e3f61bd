-- Typed, owner-resolved rows of the file behind the temp view focus_source, each with the
-- rules it breaks. is_valid is a cheap test for every row; the reason text is only built for the
-- (few) rows that fail it. tag_owners, currency_rates, utc_timestamp(), ingest_max_abs_cost() and
-- ingest_latest_charge() are per-file temp objects (focus_ingest.py).
-- A number must be finite: try_cast accepts 'NaN' and 'Infinity', and one NaN makes every sum NaN.
-- Money is parsed from its text straight into DECIMAL (exact); the double is only used to test
-- magnitudes and to convert other currencies.
create or replace temp view focus_validated as
with parsed as (
    select
        s.*,
        try_cast(s.billed_cost as double) as billed_cost_p,
        try_cast(s.effective_cost as double) as effective_cost_p,
        try_cast(s.list_cost as double) as list_cost_p,
        try_cast(s.contracted_cost as double) as contracted_cost_p,
        try_cast(s.list_unit_price as double) as list_unit_price_p,
        try_cast(s.consumed_quantity as double) as consumed_quantity_p,
        try_cast(s.pricing_quantity as double) as pricing_quantity_p
    from focus_source s
),
typed as (
    select
        s.* exclude (billed_cost_p, effective_cost_p, list_cost_p, contracted_cost_p, list_unit_price_p,
                     consumed_quantity_p, pricing_quantity_p),
        utc_timestamp(s.charge_period_start) as cps,
        utc_timestamp(s.charge_period_end) as cpe,
        utc_timestamp(s.billing_period_start) as bps,
        utc_timestamp(s.billing_period_end) as bpe,
        case when isfinite(s.billed_cost_p) then s.billed_cost_p end as billed_cost_d,
        case when isfinite(s.effective_cost_p) then s.effective_cost_p end as effective_cost_d,
        case when isfinite(s.list_cost_p) then s.list_cost_p end as list_cost_d,
        case when isfinite(s.contracted_cost_p) then s.contracted_cost_p end as contracted_cost_d,
        case when isfinite(s.list_unit_price_p) then s.list_unit_price_p end as list_unit_price_d,
        case when isfinite(s.consumed_quantity_p) then s.consumed_quantity_p end as consumed_quantity_d,
        case when isfinite(s.pricing_quantity_p) then s.pricing_quantity_p end as pricing_quantity_d,
        case lower(s.charge_category)
            when 'usage' then 'Usage' when 'purchase' then 'Purchase' when 'tax' then 'Tax'
            when 'credit' then 'Credit' when 'adjustment' then 'Adjustment'
        end as charge_category_c,
        case lower(s.charge_frequency)
            when 'usage-based' then 'Usage-Based' when 'recurring' then 'Recurring' when 'one-time' then 'One-Time'
            else s.charge_frequency
        end as charge_frequency_c,
        upper(s.billing_currency) as currency_c,
        r.rate as exchange_rate,
        r.refused_reason as rate_refused_reason,
        o.department,
        o.team,
        o.tags_error,
        o.tags_canonical
    from parsed s
    left join tag_owners o on o.tags is not distinct from s.tags
    left join currency_rates r on r.currency = upper(s.billing_currency)
),
bounded as (
    select
        *,
        -- In the reporting currency, so one bound holds for every file.
        greatest(abs(billed_cost_d), abs(coalesce(effective_cost_d, 0)), abs(coalesce(list_cost_d, 0)),
                 abs(coalesce(contracted_cost_d, 0)), abs(coalesce(list_unit_price_d, 0)))
            * coalesce(exchange_rate, 1) as largest_amount
    from typed
)
select
    *,
    (charge_period_start is not null and cps is not null
        and cps >= timestamp '2000-01-01' and cps < ingest_latest_charge()
        and (charge_period_end is null or (cpe is not null and cpe >= cps))
        and (billing_period_start is null or bps is not null)
        and (billing_period_end is null or bpe is not null)
        and billed_cost_d is not null
        and (effective_cost is null or effective_cost_d is not null)
        and (list_cost is null or list_cost_d is not null)
        and (contracted_cost is null or contracted_cost_d is not null)
        and (list_unit_price is null or list_unit_price_d is not null)
        and (consumed_quantity is null or consumed_quantity_d is not null)
        and (pricing_quantity is null or pricing_quantity_d is not null)
        and largest_amount <= ingest_max_abs_cost()
        and charge_category_c is not null
        and tags_error is null
        and exchange_rate is not null) as is_valid,
    nullif(concat_ws('; ',
        case when charge_period_start is null then 'charge_period_start_missing: ChargePeriodStart is empty' end,
        case when charge_period_start is not null and cps is null
             then 'charge_period_start_unparseable: ChargePeriodStart=' || charge_period_start::varchar end,
        case when cps is not null and (cps < timestamp '2000-01-01' or cps >= ingest_latest_charge())
             then 'charge_period_start_implausible: ChargePeriodStart=' || charge_period_start::varchar
                  || ' is outside 2000-01-01 .. ' || strftime(ingest_latest_charge(), '%Y-%m-%d %H:%M') || ' UTC' end,
        case when charge_period_end is not null and cpe is null
             then 'charge_period_end_unparseable: ChargePeriodEnd=' || charge_period_end::varchar end,
        case when cpe < cps then 'charge_period_end_before_start: ChargePeriodEnd is before ChargePeriodStart' end,
        case when billing_period_start is not null and bps is null
             then 'billing_period_start_unparseable: BillingPeriodStart=' || billing_period_start::varchar end,
        case when billing_period_end is not null and bpe is null
             then 'billing_period_end_unparseable: BillingPeriodEnd=' || billing_period_end::varchar end,
        case when billed_cost is null then 'billed_cost_missing: BilledCost is empty' end,
        case when billed_cost is not null and billed_cost_d is null
             then 'cost_unparseable: BilledCost=' || billed_cost::varchar end,
        case when effective_cost is not null and effective_cost_d is null
             then 'cost_unparseable: EffectiveCost=' || effective_cost::varchar end,
        case when list_cost is not null and list_cost_d is null
             then 'cost_unparseable: ListCost=' || list_cost::varchar end,
        case when contracted_cost is not null and contracted_cost_d is null
             then 'cost_unparseable: ContractedCost=' || contracted_cost::varchar end,
        case when list_unit_price is not null and list_unit_price_d is null
             then 'number_unparseable: ListUnitPrice=' || list_unit_price::varchar end,
        case when consumed_quantity is not null and consumed_quantity_d is null
             then 'number_unparseable: ConsumedQuantity=' || consumed_quantity::varchar end,
        case when pricing_quantity is not null and pricing_quantity_d is null
             then 'number_unparseable: PricingQuantity=' || pricing_quantity::varchar end,
        case when largest_amount > ingest_max_abs_cost()
             then 'cost_implausible: an amount of this row (BilledCost=' || coalesce(billed_cost::varchar, '<empty>')
                  || ') is beyond the plausible ' || ingest_max_abs_cost()::varchar
                  || ' per line item in the reporting currency (FINOPS_MAX_LINE_ITEM_COST)' end,
        case when charge_category_c is null
             then 'charge_category_invalid: ChargeCategory=' || coalesce(charge_category::varchar, '<empty>')
                  || ' is not one of Usage, Purchase, Tax, Credit, Adjustment' end,
        case when tags_error is not null then 'tags_not_json_object: ' || tags_error end,
        case when billing_currency is null then 'billing_currency_missing: BillingCurrency is empty' end,
        case when billing_currency is not null and exchange_rate is null and rate_refused_reason is not null
             then 'exchange_rate_invalid: BillingCurrency=' || billing_currency::varchar || ': ' || rate_refused_reason end,
        case when billing_currency is not null and exchange_rate is null and rate_refused_reason is null
             then 'currency_without_rate: BillingCurrency=' || billing_currency::varchar
                  || ' differs from the reporting currency and exchange_rates.csv has no rate for it' end
    ), '') as reason
from bounded
