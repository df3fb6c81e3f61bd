-- Typed Parquet timestamps: TIMESTAMP is taken as UTC, TIMESTAMPTZ converted (session zone UTC).
create or replace temp macro utc_timestamp(value) as value::timestamp
