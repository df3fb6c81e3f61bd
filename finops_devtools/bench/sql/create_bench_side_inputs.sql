-- The other side inputs the detection reads: a repository per team, flat traffic, no incidents.
create or replace table team_repositories as
select 'dept-' || (t % 10) as department, 'team-' || t as team, 'org/repo-' || t as repository, true as primary_repo
from range(200) r(t)
