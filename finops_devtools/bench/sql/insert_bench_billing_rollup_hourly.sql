-- Hourly rows for the resources that spike, over the 16 days up to their spike's second day (the
-- onset search reads no further); the spike starts at 13:00.
insert into billing_rollup_hourly
select
    hour_ts, hour_ts::date, true, 'AWS', 'payer', 'acct-' || (r % 60), 'dept-' || (r % 10), 'team-' || (r % 200),
    'service-' || (r % 40), 'res-' || r, 'us-east-1', 'Usage', cost, cost, cost, cost, cost / 0.19, 1
from (
    select r, hour_ts,
        (5 + r % 200) / 24.0 * (0.97 + (hash(r, hour_ts) % 600) / 10000.0)
        * (case when hour_ts >= spike + interval 13 hour and hour_ts < spike + interval 48 hour then 3.0 else 1.0 end)
        as cost
    from (select r, (date '2026-01-01' + ($days - 40 + r % 30)::integer)::timestamp as spike
          from range(0, $resources, $resources // $anomalies) t(r)),
         lateral (select unnest(generate_series(spike - interval 15 day, spike + interval 47 hour, interval 1 hour)) as hour_ts)
)
