insert into billing_rollup
select
    usage_date,
    provider_name as provider,
    billing_account_id,
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
    sum(cost_metric($cost_metric, billed_cost, effective_cost, list_cost)) as cost,
    sum(consumed_quantity) as consumed_quantity,
    count(*) as line_items
from focus_billing
where not is_duplicate and usage_date >= $start and usage_date < $end
group by all
