-- Resources too new for a baseline of their own are judged at team and sub-account level:
-- spend in a region or service that the sub-account or team has not used in $baseline_window_days days (while the
-- sub-account had spend to compare with) is a signal by itself; otherwise the new spend must stand
-- out against the team's daily total like any anomaly.
with team_days as (
    -- Summed as DECIMAL (exact): the same total, to the last bit, whatever order the rows come in.
    select sub_account_id, team, usage_date, sum(actual_cost::decimal(38, 12))::double as team_cost
    from cost_baselines group by all
),
team_charts as (
    select
        *,
        median(team_cost) over w as team_median,
        mad(team_cost) over w as team_mad,
        count(*) over w as team_days_known
    from team_days
    window w as (partition by sub_account_id, team order by usage_date
                 range between to_days($baseline_window_days) preceding and interval 1 day preceding)
),
judged as (
    select
        b.resource_id, b.usage_date,
        t.team_median, greatest(1.4826 * t.team_mad, $std_floor_pct * t.team_median, 0.01) as team_std,
        coalesce(t.team_days_known, 0) as team_days_known,
        (select count(distinct o.usage_date) from cost_baselines o
          where o.sub_account_id is not distinct from b.sub_account_id
            and o.usage_date between b.first_day - $baseline_window_days::integer and b.first_day - 1 and o.actual_cost > 0) as account_days_known,
        not exists (
            select 1 from cost_baselines o
            where o.sub_account_id is not distinct from b.sub_account_id and o.region_id is not distinct from b.region_id
              and o.usage_date between b.first_day - $baseline_window_days::integer and b.first_day - 1 and o.actual_cost > 0
        ) as new_region,
        not exists (
            select 1 from cost_baselines o
            where o.team = b.team and o.sub_account_id is not distinct from b.sub_account_id
              and o.service_name is not distinct from b.service_name
              and o.usage_date between b.first_day - $baseline_window_days::integer and b.first_day - 1 and o.actual_cost > 0
        ) as new_service
    from cost_baselines b
    left join team_charts t on t.sub_account_id is not distinct from b.sub_account_id and t.team = b.team
                           and t.usage_date = b.usage_date
    where b.method = 'no_history' and b.actual_cost > 0
)
update cost_baselines b set
    method = case when j.account_days_known >= 7 and (j.new_region or j.new_service) then 'new_spend_in_new_place'
                  when j.team_days_known >= 7 then 'team_level'
                  else 'no_history' end,
    baseline_mean = case when j.account_days_known >= 7 and (j.new_region or j.new_service) then 0
                         when j.team_days_known >= 7 then 0 end,
    baseline_std = coalesce(j.team_std, b.baseline_std),
    sigma = b.actual_cost / coalesce(j.team_std, 0.01),
    excess_cost = b.actual_cost,
    cost_pct_change = null,
    is_flagged = b.actual_cost >= $dollar_floor and (
        (j.account_days_known >= 7 and (j.new_region or j.new_service))
        or (j.team_days_known >= 7 and b.actual_cost > $k_sigma * j.team_std
            and b.actual_cost >= $pct_floor * j.team_median))
from judged j
where b.resource_id = j.resource_id and b.usage_date = j.usage_date;
