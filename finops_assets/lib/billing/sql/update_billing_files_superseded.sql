update billing_files
set rows_superseded = coalesce((
    select count(*) from focus_billing f
    where f.source_file = billing_files.source_file and f.is_duplicate
), 0)
