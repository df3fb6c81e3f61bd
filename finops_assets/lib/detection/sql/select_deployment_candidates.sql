-- Production deployments of the anomalous team's registered repositories from $latent_days days
-- before the onset hour to its end (hourly billing cannot resolve minutes, so a deployment inside
-- the onset hour counts). minutes_before_anomaly is negative inside the onset hour.
select
    a.anomaly_id,
    d.id as deployment_id,
    d.repository,
    d.commit_sha,
    d.commit_message,
    d.service_name as deployment_service,
    d.deployed_at,
    date_diff('second', d.deployed_at, a.detected_at) / 60.0 as minutes_before_anomaly,
    -- The resource's own service: its service/app tag names the deployed service or repository, or
    -- the deployment is of the team's primary repository (tags and CI rarely spell services alike).
    lower(d.service_name) in (select lower(v) from (select unnest(a.resource_services) as v))
        or lower(split_part(d.repository, '/', 2)) in (select lower(v) from (select unnest(a.resource_services) as v))
        or coalesce(r.primary_repo, false) as same_service
from cost_anomaly_context a
join team_repositories r on r.team = a.team and r.department = a.department
join deployment_events d on d.repository = r.repository
where lower(d.environment) in ('production', 'prod')
  and d.deployed_at >= a.detected_at - to_days($latent_days)
  and d.deployed_at < a.detected_at + interval 1 hour
