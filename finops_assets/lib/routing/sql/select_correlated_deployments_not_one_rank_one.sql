-- Check: an anomaly with deployment candidates has exactly one rank 1. Failing rows: anomalies with
-- candidates and no rank 1, or several.
select anomaly_id, count(*) filter (where rank = 1) as rank_one_rows, count(*) as candidates
from correlated_deployments
where deployment_id is not null
group by anomaly_id
having count(*) filter (where rank = 1) <> 1
order by anomaly_id
