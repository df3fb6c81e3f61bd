-- Which cost the 'auto' metric uses, decided per provider and billing account over the whole bill
-- (never row by row: an all-upfront commitment purchase has EffectiveCost 0 by design, and falling
-- back to its BilledCost would count it twice, once bought and once amortized into usage).
-- EffectiveCost is trusted when the export fills it: on at least half of the usage rows that bill
-- something, or, when no usage row bills anything (all covered by commitments), on any usage row.
-- AWS's FOCUS sample fills it on 10 of 614 such rows: that export falls back to BilledCost.
create or replace table billing_cost_basis as
select
    provider_name,
    billing_account_id,
    count(*) filter (where charge_category = 'Usage' and billed_cost <> 0) as usage_rows_billed,
    count(*) filter (where charge_category = 'Usage' and billed_cost <> 0 and effective_cost <> 0)
        as usage_rows_billed_with_effective,
    count(*) filter (where charge_category = 'Usage' and effective_cost <> 0) as usage_rows_with_effective,
    case
        when usage_rows_billed > 0 then usage_rows_billed_with_effective * 2 >= usage_rows_billed
        else usage_rows_with_effective > 0
    end as effective_cost_trusted
from focus_billing
where not is_duplicate
group by all
