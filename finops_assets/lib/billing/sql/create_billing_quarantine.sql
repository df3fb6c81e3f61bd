create table if not exists billing_quarantine (
    source_file varchar not null,
    row_number bigint not null,
    rule varchar not null,
    reason varchar not null,
    raw_record json not null,
    quarantined_at timestamp not null
)
