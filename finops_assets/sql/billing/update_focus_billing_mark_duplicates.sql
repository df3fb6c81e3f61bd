-- The same charge (same identity, costs aside) delivered in several files: the newest delivery
-- wins, so a re-delivered month that restates costs replaces the old values instead of adding.
-- min <> max finds keys seen in more than one file cheaply; only those are ranked.
update focus_billing
set is_duplicate = true
from (
    select f.row_key, arg_max(f.source_file, d.delivery_rank) as keeper
    from focus_billing f
    join (
        select source_file, row_number() over (order by file_mtime_ns, source_file) as delivery_rank
        from billing_files
    ) d using (source_file)
    where f.row_key in (
        select row_key from focus_billing group by row_key having min(source_file) <> max(source_file)
    )
    group by f.row_key
) k
where focus_billing.row_key = k.row_key and focus_billing.source_file <> k.keeper
