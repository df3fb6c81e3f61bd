-- Traffic judged like with like: the team's requests and the resource's cost over the same days.
-- After: the episode's days (its first flagged day to its last). Before: the team's quietest 7
-- consecutive days of requests in the $baseline_window_days days before the episode: for growth that
-- ramps over weeks that is the week before the ramp began (not the day before onset, already up the
-- ramp), for a spike an ordinary week. Each episode day is matched to the before-week's day of the
-- same weekday, so the weekly rhythm cancels out; a day counts only where both requests and the
-- resource's cost are known on it and on its match. Cost per request before and after (their ratio
-- is traffic_cost_after / traffic_cost_before over requests_after / requests_before) tells cost that
-- followed traffic (flat unit cost) from cost that outgrew it.
with team_days as (
    select department, team, date, sum(requests)::double as requests
    from traffic_metrics group by all
),
weeks as (
    select department, team, date as week_start,
           avg(requests) over w as week_requests,
           count(*) over w as week_days
    from team_days
    window w as (partition by department, team order by date range between current row and interval 6 day following)
),
before_week as (
    select a.anomaly_id,
           arg_min(w.week_start, (w.week_requests, -epoch(w.week_start))) as week_start  -- the latest of equal weeks
    from cost_anomalies a
    join weeks w on w.team = a.team and w.department = a.department
     and w.week_days = 7
     and w.week_start between a.anomaly_date - $baseline_window_days::integer and a.anomaly_date - 7
    group by 1
),
pairs as (
    select a.anomaly_id, bw.week_start, ta.requests as requests_after, tb.requests as requests_before,
           c.actual_cost as cost_after, cb.actual_cost as cost_before
    from cost_anomalies a
    join before_week bw using (anomaly_id)
    join cost_baselines c on c.resource_id = a.resource_id
     and c.usage_date between a.anomaly_date and a.last_elevated_date
    join cost_baselines cb on cb.resource_id = a.resource_id
     and cb.usage_date = bw.week_start + ((c.usage_date - bw.week_start) % 7)::integer
    join team_days ta on ta.team = a.team and ta.department = a.department and ta.date = c.usage_date
    join team_days tb on tb.team = a.team and tb.department = a.department and tb.date = cb.usage_date
)
select
    anomaly_id,
    any_value(week_start) as traffic_before_from,
    count(*) as traffic_days,
    avg(requests_after) as requests_after,
    avg(requests_before) as requests_before,
    sum(cost_after::decimal(38, 12))::double / count(*) as traffic_cost_after,
    sum(cost_before::decimal(38, 12))::double / count(*) as traffic_cost_before
from pairs
group by 1
