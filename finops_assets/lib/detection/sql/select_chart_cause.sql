-- The cause routing decided for the anomaly, if it has run.
select path, confidence, rationale, evidence, deployment_id
from routing_decisions
where anomaly_id = $anomaly_id
