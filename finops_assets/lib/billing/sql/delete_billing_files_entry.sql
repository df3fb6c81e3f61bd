delete from billing_files where source_file = $source_file
