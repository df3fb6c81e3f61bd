create table if not exists input_quarantine (
    input_name varchar not null,
    source_file varchar not null,
    row_number bigint not null,
    rule varchar not null,
    reason varchar not null,
    raw_record varchar not null
)
