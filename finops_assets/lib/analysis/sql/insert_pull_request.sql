-- A PR returned again (the job run twice) keeps its first record.
insert or ignore into pull_requests
values ($branch, $repository, $number, $url, $draft, $head, $base, $analysis_id, $anomaly_id, $approver, $host, $created_at)
