-- The control chart per resource and day, over every day in billing_rollup (usage charges only:
-- taxes, credits, adjustments and commitment purchases are not consumption).
-- Baseline: median and MAD (robust to outliers) of the same kind of day (weekday or weekend) over
-- the previous 28 days, leaving out known incident windows; a second pass also leaves out the days
-- the first pass flagged, so a spike never becomes normal. Parameters are $k_sigma, $dollar_floor,
-- $pct_floor, $std_floor_pct. Resources are processed in $buckets hash buckets so memory stays
-- bounded (median and MAD windows do not spill); this inserts bucket $bucket.
insert into cost_baselines
with usage as (
    select
        coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
        usage_date,
        sum(cost) as actual_cost,
        sum(consumed_quantity) as quantity
    from billing_rollup
    where charge_category = 'Usage'
      and hash(coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))) % $buckets = $bucket
    group by all
),
attributes as (
    -- A resource's owner and place as of its latest spend.
    select
        coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
        arg_max(sub_account_id, usage_date) as sub_account_id,
        arg_max(department, usage_date) as department,
        arg_max(team, usage_date) as team,
        arg_max(service_name, usage_date) as service_name,
        arg_max(region_id, usage_date) as region_id
    from billing_rollup
    where charge_category = 'Usage'
      and hash(coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))) % $buckets = $bucket
    group by 1
),
calendar as (
    -- Dense days from a resource's first spend, so a day without spend counts as zero.
    select resource_id, first_day, unnest(generate_series(first_day, last_day, interval 1 day))::date as usage_date
    from (select resource_id, min(usage_date) as first_day from usage group by 1),
         (select max(usage_date) as last_day from billing_rollup)
),
days as (
    select
        c.resource_id, c.usage_date, c.first_day,
        coalesce(u.actual_cost, 0) as actual_cost,
        coalesce(u.quantity, 0) as quantity,
        isodow(c.usage_date) >= 6 as is_weekend,
        exists (
            select 1 from incident_history i
            where c.usage_date between i.started_at::date and coalesce(i.resolved_at, i.started_at + interval 1 day)::date
              and list_contains(string_split(replace(i.affected_resources, ',', ';'), ';'), c.resource_id)
        ) as in_incident
    from calendar c
    left join usage u using (resource_id, usage_date)
),
pass1 as (
    select
        *,
        median(actual_cost) filter (where not in_incident) over same_kind as median_1,
        mad(actual_cost) filter (where not in_incident) over same_kind as mad_1,
        count(*) filter (where not in_incident) over same_kind as n_1
    from days
    window same_kind as (partition by resource_id, is_weekend order by usage_date
                         range between interval 28 days preceding and interval 1 day preceding)
),
flag1 as (
    select
        *,
        n_1 >= 3
            and actual_cost - median_1 > $k_sigma * greatest(1.4826 * mad_1, $std_floor_pct * median_1, 0.01)
            and actual_cost - median_1 >= $dollar_floor
            and actual_cost >= (1 + $pct_floor) * median_1 as flagged_1
    from pass1
),
pass2 as (
    select
        *,
        median(actual_cost) filter (where not in_incident and not flagged_1) over same_kind as median_same,
        mad(actual_cost) filter (where not in_incident and not flagged_1) over same_kind as mad_same,
        count(*) filter (where not in_incident and not flagged_1) over same_kind as n_same,
        median(actual_cost) filter (where not in_incident and not flagged_1) over any_kind as median_any,
        mad(actual_cost) filter (where not in_incident and not flagged_1) over any_kind as mad_any,
        count(*) filter (where not in_incident and not flagged_1) over any_kind as n_any,
        sum(quantity) filter (where not in_incident and not flagged_1) over same_kind as quantity_sum,
        sum(actual_cost) filter (where not in_incident and not flagged_1) over same_kind as cost_sum
    from flag1
    window same_kind as (partition by resource_id, is_weekend order by usage_date
                         range between interval 28 days preceding and interval 1 day preceding),
           any_kind as (partition by resource_id order by usage_date
                        range between interval 14 days preceding and interval 1 day preceding)
),
chosen as (
    select
        *,
        case when n_same >= 3 then 'same_daytype_median_mad_28d'
             when n_any >= 5 then 'all_days_median_mad_14d'
             else 'no_history' end as method
    from pass2
),
charted as (
    select
        *,
        case method when 'same_daytype_median_mad_28d' then median_same
                    when 'all_days_median_mad_14d' then median_any end as baseline_mean,
        case method when 'same_daytype_median_mad_28d' then mad_same
                    when 'all_days_median_mad_14d' then mad_any end as baseline_mad
    from chosen
),
final as (
    select
        c.resource_id,
        c.usage_date,
        a.sub_account_id, a.department, a.team, a.service_name, a.region_id,
        c.first_day,
        c.actual_cost,
        c.quantity,
        c.baseline_mean,
        -- Robust standard deviation, floored so a perfectly flat series (reserved capacity, a
        -- subscription) does not turn a cent into a thousand sigmas.
        greatest(1.4826 * c.baseline_mad, $std_floor_pct * c.baseline_mean, 0.01) as baseline_std,
        c.cost_sum / nullif(c.quantity_sum, 0) as baseline_unit_cost,
        c.is_weekend,
        c.in_incident,
        c.method
    from charted c
    join attributes a using (resource_id)
)
select
    *,
    (actual_cost - baseline_mean) / baseline_std as sigma,
    actual_cost - baseline_mean as excess_cost,
    (actual_cost - baseline_mean) / nullif(baseline_mean, 0) as cost_pct_change,
    -- Resources without a baseline are judged in update_cost_baselines_new_spend.sql.
    coalesce(method <> 'no_history'
        and (actual_cost - baseline_mean) / baseline_std > $k_sigma
        and actual_cost - baseline_mean >= $dollar_floor
        and actual_cost >= (1 + $pct_floor) * baseline_mean, false) as is_flagged
from final
