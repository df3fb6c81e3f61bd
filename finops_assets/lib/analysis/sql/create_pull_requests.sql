create table if not exists pull_requests (
    branch varchar not null,
    repository varchar not null,
    number bigint,
    url varchar not null,
    draft boolean not null,
    head_sha varchar not null,
    base_branch varchar not null,
    analysis_id varchar not null,
    anomaly_id varchar not null,
    approver varchar not null,
    code_host varchar not null,
    created_at timestamp not null,
    primary key (repository, branch)
)
