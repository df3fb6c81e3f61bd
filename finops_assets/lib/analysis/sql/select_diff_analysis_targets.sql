-- Deployments to read the diff of: every deployment_found correlation of high or medium
-- confidence, plus the top-ranked deployment of every anomaly routed to a code cause (a latent
-- change lands days before its anomaly, so its time band is low by construction).
select
    substr(md5(c.anomaly_id || '|' || c.commit_sha), 1, 16) as analysis_id,
    c.anomaly_id, c.deployment_id, c.repository, c.commit_sha, c.confidence as correlation_confidence, c.rank,
    r.path, a.resource_id, a.team, a.department, a.service_name, a.detected_at, a.excess_cost, a.sigma
from correlated_deployments c
join routing_decisions r using (anomaly_id)
join cost_anomalies a using (anomaly_id)
where c.outcome = 'deployment_found'
  and (c.confidence in ('high', 'medium')
       or (c.rank = 1 and r.path in ('deployment_correlation', 'latent_code_change')))
order by c.anomaly_id, c.rank
