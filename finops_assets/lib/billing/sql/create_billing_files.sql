create table if not exists billing_files (
    source_file varchar primary key,
    delivery varchar not null,          -- files of one delivery (its parts) share this (README, de-duplication)
    file_format varchar not null,
    fingerprint varchar not null,
    file_mtime_ns bigint not null,
    status varchar not null,            -- 'loaded' or 'failed'
    error varchar,                      -- why the file (or its newest version) could not be read
    rows_read bigint not null default 0,
    rows_accepted bigint not null default 0,
    rows_quarantined bigint not null default 0,
    rows_superseded bigint not null default 0,  -- accepted rows replaced by a newer delivery
    currency_counts json,
    missing_optional_columns varchar,
    extra_columns varchar,
    loaded_at timestamp
)
