-- The days the new-spend rule (update_cost_baselines_new_spend.sql) flagged: a new resource's first
-- days, judged at team or sub-account level. They never train the resource's own baseline.
insert into cost_baseline_exclusions
select resource_id, usage_date
from cost_baselines
where is_flagged and method in ('new_spend_in_new_place', 'team_level')
