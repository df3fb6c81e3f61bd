-- Check: anomaly_id is unique (it is stable across runs, so tools key on it). Failing rows: each
-- duplicated id and how often it appears.
select anomaly_id, count(*) as rows
from cost_anomalies
group by anomaly_id
having count(*) > 1
order by anomaly_id
