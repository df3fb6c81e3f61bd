-- The analyses whose fix patch was kept, for the check that each one still applies.
select analysis_id, repository, commit_sha, offending_file, fix_patch
from diff_analyses
where fix_patch is not null
order by analysis_id
