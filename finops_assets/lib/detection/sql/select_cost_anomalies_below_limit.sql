-- Check: every anomaly's peak day is above the control limit (sigma > $k_sigma). Spend in a region or
-- service new to the account is flagged as a signal by itself (update_cost_baselines_new_spend.sql),
-- whatever its sigma against the team's total, so those rows are not held to the limit.
select anomaly_id, resource_id, anomaly_date, sigma, baseline_method
from cost_anomalies
where baseline_method is distinct from 'new_spend_in_new_place'
  and (sigma is null or sigma <= $k_sigma)
order by anomaly_id
