insert into pr_audit_log (attempted_at, run_id, approver, analysis_id, anomaly_id, repository, branch, outcome, reason, pr_url)
values ($attempted_at, $run_id, $approver, $analysis_id, $anomaly_id, $repository, $branch, $outcome, $reason, $pr_url)
