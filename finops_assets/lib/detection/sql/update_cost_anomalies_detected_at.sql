-- detected_at becomes the onset hour found in the hourly bill (midnight of the anomaly's day when
-- the bill is daily or the change has no clear onset hour).
update cost_anomalies a set detected_at = o.onset_hour
from cost_anomaly_onsets o
where o.anomaly_id = a.anomaly_id and o.onset_hour is not null
