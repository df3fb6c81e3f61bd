create or replace table traffic_metrics as
select day::date as date, 'dept-' || (t % 10) as department, 'team-' || t as team, 1000000::bigint as requests
from range(200) r(t), generate_series(date '2026-01-01', date '2026-01-01' + ($days - 1)::integer, interval 1 day) d(day)
