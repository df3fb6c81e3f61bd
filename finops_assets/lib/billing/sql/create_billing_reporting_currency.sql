-- The currency every amount in the warehouse is in, as ingestion decided it (lib/billing/ingest.py
-- `_reporting_currency`): one row, written in the transaction that loads a file in it. Read it
-- through lib/billing/currency.py `reporting_currency`, never from the rows' exchange rates (a bill
-- converted whole has no row at rate 1.0; a foreign currency configured at 1.0 has).
create table if not exists billing_reporting_currency (
    singleton boolean primary key default true check (singleton),
    reporting_currency varchar not null,  -- ISO 4217 code, upper case
    decided_by varchar not null,          -- 'setting' (FINOPS_REPORTING_CURRENCY), 'usd_billed', 'first_file' or 'default'
    decided_at timestamp not null
)
