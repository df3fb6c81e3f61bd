delete from focus_billing where source_file = $source_file
