delete from billing_quarantine where source_file = $source_file
