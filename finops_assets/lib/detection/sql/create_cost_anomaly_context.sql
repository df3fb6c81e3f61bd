-- Per anomaly: whether its team has a repository map, and the application services its resource
-- serves (the values of its `service`/`app` tags and its name), for deployment matching.
create or replace temp table cost_anomaly_context as
select
    a.anomaly_id, a.team, a.department, a.detected_at,
    exists (select 1 from team_repositories r where r.team = a.team and r.department = a.department) as has_repository_map,
    (select list(distinct v) filter (where v is not null) from (
        select json_extract_string(f.tags, '$.service') as v from focus_billing f
        where f.resource_id = a.resource_id and f.usage_date = a.anomaly_date
        union all
        select json_extract_string(f.tags, '$.app') from focus_billing f
        where f.resource_id = a.resource_id and f.usage_date = a.anomaly_date)) as resource_services
from cost_anomalies a
