-- A resource with no history has no hourly baseline: its onset is its first hour of spend.
update cost_anomalies a set detected_at = f.first_hour
from (
    select coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
           min(usage_hour) as first_hour
    from billing_rollup_hourly
    where charge_category = 'Usage' and cost > 0
    group by 1
) f
where f.resource_id = a.resource_id
  and a.baseline_method in ('new_spend_in_new_place', 'team_level')
  and f.first_hour >= a.anomaly_date - interval 1 day
