-- One anomaly per episode: a resource's run of flagged days (one quiet day inside a run does not
-- split it). anomaly_id hashes the resource and the episode's first day, so it is stable across
-- re-runs. Figures are those of the episode's peak day; excess_cost sums the whole episode.
-- prior_days_stable and a weekly recurrence look back $baseline_window_days days.
create or replace table cost_anomalies as
with flagged as (
    select *, usage_date - lag(usage_date) over (partition by resource_id order by usage_date) as gap
    from cost_baselines where is_flagged
),
numbered as (
    select *, sum(case when gap is null or gap > 2 then 1 else 0 end)
                  over (partition by resource_id order by usage_date) as episode
    from flagged
),
episodes as (
    select
        resource_id, episode,
        min(usage_date) as anomaly_date,
        max(usage_date) as last_elevated_date,
        count(*) as days_elevated,
        -- Exact (DECIMAL) sum and a tie-broken peak, so a re-run gives the same values to the last bit.
        sum(excess_cost::decimal(38, 12))::double as excess_cost,
        arg_max(usage_date, (excess_cost, -epoch(usage_date))) as peak_date  -- the earliest of equal peaks
    from numbered group by all
)
select
    substr(md5(e.resource_id || '|' || e.anomaly_date::varchar), 1, 16) as anomaly_id,
    e.resource_id,
    p.service_name, p.department, p.team, p.sub_account_id, p.region_id,
    e.anomaly_date,
    e.anomaly_date::timestamp as detected_at,          -- refined to the onset hour below
    e.last_elevated_date,
    e.peak_date,
    p.actual_cost,
    p.baseline_mean,
    p.baseline_std,
    p.sigma,
    e.excess_cost,
    e.days_elevated,
    p.cost_pct_change,
    p.method as baseline_method,
    p.quantity as actual_quantity,
    p.baseline_unit_cost,
    -- Split of the peak day's change: usage (quantity at the old unit cost) and unit price.
    case when p.baseline_unit_cost is not null and p.quantity > 0
         then (p.quantity - p.baseline_mean / p.baseline_unit_cost) * p.baseline_unit_cost end as usage_effect,
    case when p.baseline_unit_cost is not null and p.quantity > 0
         then (p.actual_cost / p.quantity - p.baseline_unit_cost) * p.quantity end as price_effect,
    (select count(*) from cost_baselines s
      where s.resource_id = e.resource_id and s.usage_date < e.anomaly_date and s.usage_date >= e.anomaly_date - $baseline_window_days::integer
        and not s.is_flagged and s.method <> 'no_history' and abs(s.sigma) < 2) as prior_days_stable,
    case
        when exists (select 1 from cost_baselines s where s.resource_id = e.resource_id and s.is_flagged
                       and s.usage_date <> e.anomaly_date and (s.usage_date - e.anomaly_date) % 7 = 0
                       and abs(s.usage_date - e.anomaly_date) <= $baseline_window_days
                       and not exists (select 1 from cost_baselines n where n.resource_id = e.resource_id
                                         and n.is_flagged and n.usage_date = s.usage_date - 1)
                       and e.days_elevated <= 2)
            then 'weekly'
        when exists (select 1 from cost_baselines s where s.resource_id = e.resource_id and s.is_flagged
                       and s.usage_date <> e.anomaly_date and day(s.usage_date) = day(e.anomaly_date)
                       and abs(s.usage_date - e.anomaly_date) between 27 and 93 and e.days_elevated <= 2)
            then 'monthly'
    end as recurrence_pattern,
    p.sigma * ln(1 + greatest(e.excess_cost, 0)) as priority_score
from episodes e
join cost_baselines p on p.resource_id = e.resource_id and p.usage_date = e.peak_date
