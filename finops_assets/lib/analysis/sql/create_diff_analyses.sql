create table if not exists diff_analyses (
    analysis_id varchar primary key,
    anomaly_id varchar not null,
    deployment_id varchar,
    repository varchar not null,
    commit_sha varchar not null,
    cause_found boolean not null,
    cause_description varchar not null,
    offending_file varchar,
    offending_lines varchar,
    fix_description varchar,
    fix_patch varchar,
    patch_applies boolean,
    confidence varchar not null,
    reasoning varchar not null,
    analyzer varchar not null,
    pattern varchar,
    patch_rejected varchar,          -- why a proposed fix patch was dropped (finding kept as a description)
    diff_files varchar,
    withheld_files varchar,
    diff_truncated boolean,
    diff_chars bigint,
    error varchar
)
