-- The control chart of one resource, day by day from $first_day to $last_day: its cost, baseline,
-- control band (baseline +/- $k_sigma robust standard deviations) and the days detection flagged.
select usage_date, actual_cost, baseline_mean, baseline_std,
       baseline_mean - $k_sigma * baseline_std as band_low,
       baseline_mean + $k_sigma * baseline_std as band_high,
       is_flagged, method
from cost_baselines
where resource_id = $resource_id and usage_date between $first_day and $last_day
order by usage_date
