-- $deployments production deployments of the 200 teams' repositories spread over the period; the
-- first ones land 30 minutes before a spike, the rest anywhere.
create or replace table deployment_events as
select
    'dep-' || i as id,
    case when i < $anomalies
         then (date '2026-01-01' + ($days - 40 + (i * ($resources // $anomalies)) % 30)::integer)::timestamp + interval 13 hour - interval 30 minute
         else timestamp '2026-01-01' + to_seconds((hash(i) % ($days * 86400))::bigint) end as deployed_at,
    'repo-' || (case when i < $anomalies then (i * ($resources // $anomalies)) % 200 else i % 200 end) as service_name,
    'production' as environment,
    lpad(to_hex(hash(i)), 40, '0') as commit_sha,
    case when i % 3 = 0 then 'Remove product cache decorator' else 'Tune log levels' end as commit_message,
    'main' as branch,
    'org/repo-' || (case when i < $anomalies then (i * ($resources // $anomalies)) % 200 else i % 200 end) as repository,
    'github_actions' as ci_system, 'bench' as triggered_by, '' as pipeline_url
from range($deployments) t(i)
