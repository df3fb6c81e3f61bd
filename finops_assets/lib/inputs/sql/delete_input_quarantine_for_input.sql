delete from input_quarantine where input_name = $input_name
