-- The team's request volume from the anomaly's day to two days later, against the same weekdays a
-- week earlier: cost that follows traffic moves with it.
select
    a.anomaly_id,
    avg(t.requests) filter (where t.date between a.anomaly_date and a.anomaly_date + 2) as requests_after,
    avg(t.requests) filter (where t.date between a.anomaly_date - 7 and a.anomaly_date - 5) as requests_before
from cost_anomalies a
join traffic_metrics t on t.team = a.team and t.department = a.department
group by 1
