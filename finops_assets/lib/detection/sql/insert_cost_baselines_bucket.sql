-- The control chart per resource and day, over every day in billing_rollup (usage charges only:
-- taxes, credits, adjustments and commitment purchases are not consumption).
-- Baseline: median and MAD (robust to outliers) of the same kind of day (weekday or weekend) over
-- the previous $baseline_window_days days (at least $min_baseline_days of them; else all days of the
-- previous $fallback_window_days, at least $fallback_min_days), leaving out known incident windows and
-- the days in cost_baseline_exclusions (a new resource's days the new-spend rule flagged:
-- pipeline.build_baselines charts those resources again with them left out); a second pass also
-- leaves out the days the first pass flagged, so a spike never becomes normal.
-- A level that lasts does become normal, on purpose: once more than half the same-kind days of the
-- window are at the new level the first pass accepts it, its days train the second pass, and a clean
-- step is flagged for 21 days (3 weeks, one episode), then charted against its new level (pinned in
-- finops_assets_tests/detection/test_baseline_retraining.py). A spike (at most 2 days, seed 000) never
-- does: it is always in the minority of the window.
-- Parameters are $k_sigma, $dollar_floor, $pct_floor, $std_floor_pct and the window sizes
-- (DetectionSettings). Resources are processed in $buckets hash buckets so memory stays bounded
-- (median and MAD windows do not spill); this inserts bucket $bucket, of every resource or, with
-- $excluded_only, of the resources in cost_baseline_exclusions only.
insert into cost_baselines
with usage as (
    select
        coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
        usage_date,
        sum(cost)::double as actual_cost,  -- statistics in double; money stays DECIMAL in the rollup
        -- Summed as DECIMAL (exact), so the total does not depend on the order rows are added in:
        -- a re-run gives the same bits (a DOUBLE sum differs in its last bits between runs).
        sum(consumed_quantity::decimal(38, 12))::double as quantity
    from billing_rollup
    where charge_category = 'Usage'
      and hash(coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))) % $buckets = $bucket
      and (not $excluded_only or coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))
                                 in (select resource_id from cost_baseline_exclusions))
    group by all
),
attributes as (
    -- A resource's owner and place as of its latest spend (one row's values; on a tie of days the
    -- costliest row, then the largest values, so the choice never depends on the scan order).
    select resource_id, latest.sub_account_id, latest.department, latest.team, latest.service_name, latest.region_id
    from (
    select
        coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id)) as resource_id,
        arg_max({'sub_account_id': sub_account_id, 'department': department, 'team': team,
                 'service_name': service_name, 'region_id': region_id},
                (usage_date, cost, sub_account_id, department, team, service_name, region_id)) as latest
    from billing_rollup
    where charge_category = 'Usage'
      and hash(coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))) % $buckets = $bucket
      and (not $excluded_only or coalesce(resource_id, concat_ws('/', 'unresourced', provider, sub_account_id, service_name, region_id))
                                 in (select resource_id from cost_baseline_exclusions))
    group by 1
    )
),
calendar as (
    -- Dense days from a resource's first spend, so a day without spend counts as zero.
    select resource_id, first_day, unnest(generate_series(first_day, last_day, interval 1 day))::date as usage_date
    from (select resource_id, min(usage_date) as first_day from usage group by 1),
         (select max(usage_date) as last_day from billing_rollup)
),
incident_days as (
    -- Known incident windows exploded to (resource, day): those days never train a baseline.
    select distinct trim(resource_id) as resource_id, unnest(generate_series(
               started_at::date, coalesce(resolved_at, started_at + interval 1 day)::date, interval 1 day))::date as usage_date
    from (select unnest(string_split(replace(affected_resources, ',', ';'), ';')) as resource_id, started_at, resolved_at
          from incident_history)
    where trim(resource_id) <> ''
),
days as (
    select
        c.resource_id, c.usage_date, c.first_day,
        coalesce(u.actual_cost, 0) as actual_cost,
        coalesce(u.quantity, 0) as quantity,
        isodow(c.usage_date) >= 6 as is_weekend,
        i.resource_id is not null as in_incident,
        -- Days that never train a baseline: known incidents and days the new-spend rule flagged.
        i.resource_id is not null or x.resource_id is not null as untrainable
    from calendar c
    left join usage u using (resource_id, usage_date)
    left join incident_days i using (resource_id, usage_date)
    left join cost_baseline_exclusions x using (resource_id, usage_date)
),
-- The calendar is dense and the window a whole number of weeks, so the $baseline_window_days days
-- before a day hold exactly $weekday_frame_rows weekdays and $weekend_frame_rows weekend days (5/7 and
-- 2/7 of it; 20 and 8 for 28 days): ROWS frames over each kind of day (much faster than RANGE frames
-- on dates) cover exactly them.
pass1 as (
    select
        *,
        case when is_weekend then median(case when not untrainable then actual_cost end) over weekend_window
             else median(case when not untrainable then actual_cost end) over weekday_window end as median_1,
        case when is_weekend then mad(case when not untrainable then actual_cost end) over weekend_window
             else mad(case when not untrainable then actual_cost end) over weekday_window end as mad_1,
        case when is_weekend then count(case when not untrainable then 1 end) over weekend_window
             else count(case when not untrainable then 1 end) over weekday_window end as n_1
    from days
    window weekday_window as (partition by resource_id, is_weekend order by usage_date
                              rows between $weekday_frame_rows preceding and 1 preceding),
           weekend_window as (partition by resource_id, is_weekend order by usage_date
                              rows between $weekend_frame_rows preceding and 1 preceding)
),
flag1 as (
    select
        *,
        n_1 >= $min_baseline_days
            and actual_cost - median_1 > $k_sigma * greatest(1.4826 * mad_1, $std_floor_pct * median_1, 0.01)
            and actual_cost - median_1 >= $dollar_floor
            and actual_cost >= (1 + $pct_floor) * median_1 as flagged_1
    from pass1
),
flag1_trainable as (
    -- What the second pass learns from: no untrainable days, no days the first pass flagged.
    select
        *,
        case when not untrainable and not coalesce(flagged_1, false) then actual_cost end as trainable_cost,
        case when not untrainable and not coalesce(flagged_1, false) then quantity end as trainable_quantity
    from flag1
),
pass2 as (
    select
        *,
        case when is_weekend then median(trainable_cost) over weekend_window else median(trainable_cost) over weekday_window end
            as median_same,
        case when is_weekend then mad(trainable_cost) over weekend_window else mad(trainable_cost) over weekday_window end
            as mad_same,
        case when is_weekend then count(trainable_cost) over weekend_window else count(trainable_cost) over weekday_window end
            as n_same,
        median(trainable_cost) over any_window as median_any,
        mad(trainable_cost) over any_window as mad_any,
        count(trainable_cost) over any_window as n_any,
        case when is_weekend then sum(trainable_quantity) over weekend_window else sum(trainable_quantity) over weekday_window end
            as quantity_sum,
        case when is_weekend then sum(trainable_cost) over weekend_window else sum(trainable_cost) over weekday_window end
            as cost_sum
    from flag1_trainable
    window weekday_window as (partition by resource_id, is_weekend order by usage_date
                              rows between $weekday_frame_rows preceding and 1 preceding),
           weekend_window as (partition by resource_id, is_weekend order by usage_date
                              rows between $weekend_frame_rows preceding and 1 preceding),
           any_window as (partition by resource_id order by usage_date rows between $fallback_window_days preceding and 1 preceding)
),
chosen as (
    select
        *,
        case when n_same >= $min_baseline_days then concat('same_daytype_median_mad_', $baseline_window_days, 'd')
             when n_any >= $fallback_min_days then concat('all_days_median_mad_', $fallback_window_days, 'd')
             else 'no_history' end as method
    from pass2
),
charted as (
    select
        *,
        case when method like 'same_daytype_%' then median_same
             when method like 'all_days_%' then median_any end as baseline_mean,
        case when method like 'same_daytype_%' then mad_same
             when method like 'all_days_%' then mad_any end as baseline_mad
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
