-- The onset hour of each anomaly, from the hourly bill: the first hour, from the day before the
-- anomaly's day (a slow rise crosses the daily limit a day late) to its end, whose cost exceeds that
-- hour-of-day's median on the previous $onset_history_days unflagged days of the same kind
-- (weekday/weekend) by $onset_sigma robust sigmas and $pct_floor, and stays up for at least
-- $onset_confirm_hours of the next $onset_confirm_window_hours hours. Also the shape of
-- the change: the mean of the three hours from onset against the three before it (a step or a
-- ramp) and against baseline, and how many hours of the next day stayed up.
with hourly as (
    select
        coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
        usage_hour, sum(cost)::double as cost
    from billing_rollup_hourly
    where charge_category = 'Usage' and hourly_grain
    group by all
),
scope as (
    select a.anomaly_id, a.resource_id, a.anomaly_date, h.usage_hour, h.cost,
           h.usage_hour::date as day, hour(h.usage_hour) as hour_of_day,
           isodow(h.usage_hour::date) >= 6 as is_weekend
    from cost_anomalies a
    join hourly h on h.resource_id = a.resource_id
                 and h.usage_hour >= a.anomaly_date - to_days($onset_history_days + 2)  -- and the two days before it
                 and h.usage_hour < a.anomaly_date + interval 1 day
),
history as (
    select s.anomaly_id, s.hour_of_day, s.is_weekend,
           median(s.cost) as hour_median, mad(s.cost) as hour_mad
    from scope s
    join cost_baselines b on b.resource_id = s.resource_id and b.usage_date = s.day
    where s.usage_hour < s.anomaly_date - interval 1 day and not b.is_flagged
    group by all
),
judged as (
    select
        s.anomaly_id, s.anomaly_date, s.usage_hour, s.cost, h.hour_median,
        s.cost - h.hour_median > greatest($onset_sigma * 1.4826 * h.hour_mad, $pct_floor * h.hour_median, 0.01) as elevated
    from scope s
    join history h using (anomaly_id, hour_of_day, is_weekend)
    where s.usage_hour >= s.anomaly_date - interval 36 hour  -- 12 hours of context before the earliest onset
),
runs as (
    select *,
        coalesce(sum(case when elevated then 1 else 0 end) over (
            partition by anomaly_id order by usage_hour
            rows between 1 following and $onset_confirm_window_hours following), 0) as next_up,
        avg(cost) over (partition by anomaly_id order by usage_hour rows between current row and 2 following) as cost_3h,
        avg(hour_median) over (partition by anomaly_id order by usage_hour rows between current row and 2 following) as base_3h,
        avg(cost) over (partition by anomaly_id order by usage_hour rows between 3 preceding and 1 preceding) as cost_before_3h
    from judged
),
onsets as (
    select anomaly_id, min(usage_hour) as onset_hour from runs
    where elevated and next_up >= $onset_confirm_hours and usage_hour >= anomaly_date - interval 1 day
    group by 1
)
select
    o.anomaly_id,
    o.onset_hour,
    r.cost_3h / nullif(r.base_3h, 0) as onset_level_ratio,
    r.cost_3h / nullif(r.cost_before_3h, 0) as onset_step_ratio,
    (select count(*) from runs x where x.anomaly_id = o.anomaly_id and x.elevated
       and x.usage_hour >= o.onset_hour and x.usage_hour < o.onset_hour + interval 24 hour) as hours_elevated_24h,
    (select bool_and(not x.elevated) from runs x where x.anomaly_id = o.anomaly_id
       and x.usage_hour >= o.onset_hour + interval 8 hour and x.usage_hour < o.onset_hour + interval 24 hour)
        as back_to_normal_within_8h
from onsets o
join runs r on r.anomaly_id = o.anomaly_id and r.usage_hour = o.onset_hour
