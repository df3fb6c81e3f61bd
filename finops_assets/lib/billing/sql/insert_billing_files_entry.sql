insert or replace into billing_files
select
    $source_file, $delivery, $file_format, $fingerprint, $file_mtime_ns, 'loaded', null,
    $rows_read,
    (select count(*) from focus_billing where source_file = $source_file),
    (select count(*) from billing_quarantine where source_file = $source_file),
    0, $currency_counts, $missing_optional_columns, $extra_columns, now()::timestamp
