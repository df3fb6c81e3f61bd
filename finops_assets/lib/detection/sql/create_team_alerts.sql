-- One alert per team and day: its anomalies, their excess and the top resources first (equal scores
-- in anomaly_id order, and an exact sum, so a re-run gives the same rows).
create or replace table team_alerts as
select
    a.anomaly_date as alert_date,
    a.department,
    a.team,
    count(*) as anomalies,
    sum(a.excess_cost::decimal(38, 12))::double as excess_cost,
    max(a.priority_score) as max_priority_score,
    list(a.resource_id order by a.priority_score desc, a.anomaly_id)[1:3] as top_resources,
    list(r.path order by a.priority_score desc, a.anomaly_id)[1:3] as top_paths,
    string_agg(a.anomaly_id, ',' order by a.priority_score desc, a.anomaly_id) as anomaly_ids
from cost_anomalies a
left join routing_decisions r using (anomaly_id)
group by all
