-- What the bill itself says about each anomaly's resource, in the 72 hours before its onset and
-- the 24 hours from it: commitment coverage, SKU and resource type, unit price, quantity, who
-- publishes the line, and whether its region or service is new to the sub-account or team (no spend
-- in the $baseline_window_days days before). A line is third party by lib/billing/vendors.py: its
-- names' vendor identities (temp table vendor_lines) or a marketplace marker (macro marketplace_line),
-- never by comparing the names as text ('AWS' and 'Amazon Web Services EMEA SARL' are one vendor).
with rows as (
    select
        a.anomaly_id,
        f.charge_period_start >= a.detected_at as after_onset,
        -- The 72 hours before onset; and the same 24 hours a week earlier (weekly rhythm cancels out).
        f.charge_period_start >= a.detected_at - interval 72 hour as recent,
        f.charge_period_start < a.detected_at - interval 6 day as week_before,
        f.pricing_quantity, f.consumed_quantity, f.list_cost::double as list_cost,
        cost_metric($cost_metric, f.billed_cost, f.effective_cost, f.list_cost, b.effective_cost_trusted, f.charge_category)::double as cost,
        f.commitment_discount_id is not null or lower(coalesce(f.pricing_category, '')) = 'committed' as committed,
        f.sku_id, f.sku_price_id, f.resource_type, f.service_category,
        f.provider_name, f.publisher_name, f.host_provider_name,
        coalesce(v.third_party_vendor, false) or marketplace_line(f.charge_description, f.resource_id) as third_party
    from cost_anomalies a
    join focus_billing f
      on coalesce(f.resource_id, concat_ws('/', 'unresourced', f.provider_name, f.sub_account_id, f.service_name, f.region_id)) = a.resource_id
     and f.charge_period_start >= a.detected_at - interval 7 day
     and f.charge_period_start < a.detected_at + interval 24 hour
     and f.charge_category = 'Usage' and not f.is_duplicate
    left join billing_cost_basis b
      on b.provider_name is not distinct from f.provider_name
     and b.billing_account_id is not distinct from f.billing_account_id
    left join vendor_lines v
      on v.provider_name is not distinct from f.provider_name
     and v.publisher_name is not distinct from f.publisher_name
     and v.host_provider_name is not distinct from f.host_provider_name
     and v.invoice_issuer_name is not distinct from f.invoice_issuer_name
),
sides as (
    select
        anomaly_id,
        coalesce(sum(coalesce(pricing_quantity, consumed_quantity, 0)) filter (where committed and recent and not after_onset), 0)
            / nullif(sum(coalesce(pricing_quantity, consumed_quantity, 0)) filter (where recent and not after_onset), 0) as committed_share_before,
        coalesce(sum(coalesce(pricing_quantity, consumed_quantity, 0)) filter (where committed and after_onset), 0)
            / nullif(sum(coalesce(pricing_quantity, consumed_quantity, 0)) filter (where after_onset), 0) as committed_share_after,
        arg_max(sku_id, coalesce(pricing_quantity, 0)) filter (where recent and not after_onset) as sku_before,
        arg_max(sku_id, coalesce(pricing_quantity, 0)) filter (where after_onset) as sku_after,
        arg_max(sku_price_id, coalesce(pricing_quantity, 0)) filter (where recent and not after_onset) as sku_price_before,
        arg_max(sku_price_id, coalesce(pricing_quantity, 0)) filter (where after_onset) as sku_price_after,
        arg_max(resource_type, coalesce(pricing_quantity, 0)) filter (where recent and not after_onset) as resource_type_before,
        arg_max(resource_type, coalesce(pricing_quantity, 0)) filter (where after_onset) as resource_type_after,
        sum(list_cost) filter (where recent and not after_onset)
            / nullif(sum(coalesce(pricing_quantity, consumed_quantity)) filter (where recent and not after_onset), 0) as unit_price_before,
        sum(list_cost) filter (where after_onset)
            / nullif(sum(coalesce(pricing_quantity, consumed_quantity)) filter (where after_onset), 0) as unit_price_after,
        sum(coalesce(pricing_quantity, consumed_quantity)) filter (where recent and not after_onset) / 72.0 as quantity_per_hour_before,
        sum(coalesce(pricing_quantity, consumed_quantity)) filter (where after_onset) / 24.0 as quantity_per_hour_after,
        sum(coalesce(pricing_quantity, consumed_quantity)) filter (where week_before) / 24.0 as quantity_per_hour_week_before,
        count(*) filter (where recent and not after_onset) as rows_before,
        arg_max(service_category, cost) as service_category,
        coalesce(bool_or(third_party), false) as third_party_line,
        arg_max(coalesce(publisher_name, host_provider_name), cost) as publisher_name,
        arg_max(provider_name, cost) as provider_name
    from rows group by 1
)
select
    a.anomaly_id,
    s.* exclude (anomaly_id),
    (select min(b.usage_date) from cost_baselines b where b.resource_id = a.resource_id and b.actual_cost > 0) as resource_first_day,
    not exists (select 1 from cost_baselines b where b.sub_account_id is not distinct from a.sub_account_id
                  and b.region_id is not distinct from a.region_id and b.actual_cost > 0
                  and b.usage_date between a.anomaly_date - $baseline_window_days::integer and a.anomaly_date - 3) as region_new_to_account,
    not exists (select 1 from cost_baselines b where b.team = a.team and b.sub_account_id is not distinct from a.sub_account_id
                  and b.service_name is not distinct from a.service_name and b.actual_cost > 0
                  and b.usage_date between a.anomaly_date - $baseline_window_days::integer and a.anomaly_date - 3) as service_new_to_team,
    exists (select 1 from cost_baselines b where b.sub_account_id is not distinct from a.sub_account_id
              and b.actual_cost > 0 and b.usage_date between a.anomaly_date - $baseline_window_days::integer and a.anomaly_date - 7) as account_has_history
from cost_anomalies a
left join sides s using (anomaly_id)
