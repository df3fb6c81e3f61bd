-- Check: exactly one routing decision per anomaly. Failing rows: anomalies with none or several.
select coalesce(a.anomaly_id, r.anomaly_id) as anomaly_id, count(r.anomaly_id) as decisions
from (select anomaly_id from cost_anomalies) a
full join routing_decisions r using (anomaly_id)
group by 1
having count(r.anomaly_id) <> 1 or bool_or(a.anomaly_id is null)
order by 1
