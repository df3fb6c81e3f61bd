insert into billing_quarantine
select
    $source_file as source_file,
    source_row as row_number,
    split_part(reason, ':', 1) as rule,
    reason,
    raw_record,
    now()::timestamp as quarantined_at
from focus_validated
where not is_valid
