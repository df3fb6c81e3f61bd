-- A synthetic daily rollup: $resources resources over $days days from 2026-01-01, owned by 200
-- teams in 10 departments, weekday/weekend rhythm and ±3% noise. Every ($resources / $anomalies)-th
-- resource triples its cost for two days from day $days - 40 + (r % 30).
insert into billing_rollup
select
    day::date, 'AWS', 'payer', 'acct-' || (r % 60), 'dept-' || (r % 10), 'team-' || (r % 200), 'service-' || (r % 40),
    'res-' || r, 'us-east-1', 'Usage', cost, cost, cost, cost, cost / 0.19, 24
from (
    select r, day,
        (5 + r % 200) * (case when isodow(day) >= 6 then 0.75 else 1.0 end)
        * (0.97 + (hash(r, day) % 600) / 10000.0)
        * (case when r % ($resources // $anomalies) = 0
                 and day::date - date '2026-01-01' between $days - 40 + r % 30 and $days - 39 + r % 30 then 3.0 else 1.0 end)
        as cost
    from range($resources) t(r), generate_series(date '2026-01-01', date '2026-01-01' + ($days - 1)::integer, interval 1 day) d(day)
)
