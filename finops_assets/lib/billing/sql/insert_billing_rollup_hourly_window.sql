insert into billing_rollup_hourly
select
    date_trunc('hour', charge_period_start) as usage_hour,
    usage_date,
    coalesce(charge_period_end <= charge_period_start + interval 1 hour, true) as hourly_grain,
    f.provider_name as provider,
    f.billing_account_id,
    sub_account_id,
    department,
    team,
    service_name,
    resource_id,
    region_id,
    charge_category,
    sum(billed_cost) as billed_cost,
    sum(effective_cost) as effective_cost,
    sum(list_cost) as list_cost,
    sum(cost_metric($cost_metric, billed_cost, effective_cost, list_cost, b.effective_cost_trusted, charge_category)) as cost,
    sum(consumed_quantity) as consumed_quantity,
    count(*) as line_items
from focus_billing f
left join billing_cost_basis b
  on b.provider_name is not distinct from f.provider_name
 and b.billing_account_id is not distinct from f.billing_account_id
where not is_duplicate and usage_date >= $start and usage_date < $end
group by all
