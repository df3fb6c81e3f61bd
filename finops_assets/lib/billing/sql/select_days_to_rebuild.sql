-- Days `finops-assets run` rebuilds: every day in the bill, plus days rolled up before whose rows
-- may have left with a removed or replaced file (so no stale rollup row survives).
select min(day), max(day) from (
    select usage_date as day from focus_billing where not is_duplicate
    union all
    select usage_date from billing_rollup
    union all
    select usage_date from billing_rollup_hourly
)
