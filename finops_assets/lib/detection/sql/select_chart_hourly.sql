-- Hourly usage cost of one resource from $start (inclusive) to $end (exclusive), hourly-grain
-- charges only, with the resource id detection uses (a charge without one is keyed by its place).
select usage_hour, sum(cost)::double as cost
from billing_rollup_hourly
where charge_category = 'Usage' and hourly_grain
  and coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) = $resource_id
  and usage_hour >= $start and usage_hour < $end
group by 1
order by 1
