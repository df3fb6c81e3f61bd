insert or replace into billing_reporting_currency (singleton, reporting_currency, decided_by, decided_at)
values (true, $reporting_currency, $decided_by, now()::timestamp)
