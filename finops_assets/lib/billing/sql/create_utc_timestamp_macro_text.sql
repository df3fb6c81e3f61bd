-- Text timestamps: with or without T/Z, or with an offset; the session time zone is UTC.
create or replace temp macro utc_timestamp(value) as try_cast(value as timestamptz)::timestamp
