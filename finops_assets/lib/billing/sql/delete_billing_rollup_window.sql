delete from billing_rollup where usage_date >= $start and usage_date < $end
