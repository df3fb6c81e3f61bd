-- The anomalies shown first in metadata: highest priority score, ties broken by anomaly_id (deterministic).
select anomaly_id
from cost_anomalies
order by priority_score desc nulls last, anomaly_id
limit $n
