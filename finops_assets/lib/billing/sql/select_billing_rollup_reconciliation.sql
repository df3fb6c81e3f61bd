-- Billed cost in the window: accepted source rows vs. both rollups (they must agree).
select
    (select coalesce(sum(billed_cost), 0) from focus_billing
      where not is_duplicate and usage_date >= $start and usage_date < $end) as source_billed,
    (select coalesce(sum(billed_cost), 0) from billing_rollup
      where usage_date >= $start and usage_date < $end) as daily_billed,
    (select coalesce(sum(billed_cost), 0) from billing_rollup_hourly
      where usage_date >= $start and usage_date < $end) as hourly_billed
