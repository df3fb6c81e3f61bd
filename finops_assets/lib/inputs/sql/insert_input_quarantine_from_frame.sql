insert into input_quarantine
select $input_name, source_file, row_number, rule, reason, raw_record from rejected_frame
