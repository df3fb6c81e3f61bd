-- The anomaly a control chart is drawn for (lib/detection/charts.py).
select anomaly_id, resource_id, service_name, department, team, anomaly_date, last_elevated_date, detected_at,
       sigma, excess_cost, days_elevated, baseline_method
from cost_anomalies
where anomaly_id = $anomaly_id
