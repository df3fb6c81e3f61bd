-- Append-only: every attempt to open a cost-fix PR, refused or not.
create table if not exists pr_audit_log (
    attempted_at timestamp not null,
    run_id varchar not null,
    approver varchar,
    analysis_id varchar,
    anomaly_id varchar,
    repository varchar,
    branch varchar,
    outcome varchar not null,     -- created | existing | refused | failed
    reason varchar,
    pr_url varchar
)
