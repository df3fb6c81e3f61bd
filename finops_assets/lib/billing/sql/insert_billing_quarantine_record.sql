-- One record the CSV reader could not split (ragged, not UTF-8): its text is the raw record.
insert into billing_quarantine
values ($source_file, $row_number, $rule, $reason, $raw_record::json, now()::timestamp)
