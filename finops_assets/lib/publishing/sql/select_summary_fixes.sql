-- Diff analyses, and those that found a cause with a kept fix patch.
select count(*), count(*) filter (where fix_patch is not null) from diff_analyses
