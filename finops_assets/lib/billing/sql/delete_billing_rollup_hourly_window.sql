delete from billing_rollup_hourly where usage_date >= $start and usage_date < $end
