-- Keep the last good version's rows (and counts) of a file whose newest version cannot be read.
insert into billing_files (source_file, delivery, file_format, fingerprint, file_mtime_ns, status, error, loaded_at)
values ($source_file, $delivery, $file_format, '', $file_mtime_ns, 'failed', $error, now()::timestamp)
on conflict (source_file) do update set status = 'failed', error = excluded.error, fingerprint = ''
