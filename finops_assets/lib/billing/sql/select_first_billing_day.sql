-- The first day of the loaded bill (the published snapshot), for the daily partitions' start.
select min(usage_date) from focus_billing where not is_duplicate
