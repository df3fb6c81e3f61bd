-- The ingested bill's first and last usage day (the new-bill sensor builds the days in between that
-- have no billing_rollup partition yet). NULLs when the bill has no rows.
select min(usage_date), max(usage_date) from focus_billing where not is_duplicate
