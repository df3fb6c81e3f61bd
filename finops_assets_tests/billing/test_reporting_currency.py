"""The reporting currency is what ingestion decided and recorded (billing_reporting_currency), read
back through lib/billing/currency.py `reporting_currency`: never guessed from the rows' exchange rates
(a bill converted whole has no row at rate 1.0; a foreign currency configured at 1.0 has many)."""

import pytest

from finops_assets.lib.billing import ingest as ingest_module
from finops_assets.lib.billing.currency import (
    record_reporting_currency,
    reporting_currency,
)
from finops_assets.lib.billing.ingest import IngestSettings
from finops_assets_tests.billing.test_focus_ingest import ingest, line, rows, write_csv


def recorded(conn) -> list[tuple]:
    return rows(conn, "select reporting_currency, decided_by from billing_reporting_currency")


def test_nothing_is_recorded_before_a_bill_is_ingested(conn):
    assert reporting_currency(conn) is None
    conn.execute("create table billing_reporting_currency (reporting_currency varchar)")
    assert reporting_currency(conn) is None  # the table, but no decision in it


def test_a_bill_converted_whole_is_in_the_configured_currency(conn, tmp_path):
    # FINOPS_REPORTING_CURRENCY=EUR, every row billed in USD and converted at 0.9: no row is at rate 1.0.
    bill = write_csv(tmp_path / "usd.csv", [line(1, h, f"r-{h}", cost="10") for h in range(4)])
    report = ingest(conn, [bill], tmp_path, IngestSettings(reporting_currency="EUR", exchange_rates={"USD": 0.9}))
    assert rows(conn, "select distinct billing_currency, exchange_rate from focus_billing") == [("USD", 0.9)]
    assert report.reporting_currency == reporting_currency(conn) == "EUR"
    assert recorded(conn) == [("EUR", "setting")]


def test_a_foreign_currency_at_rate_one_does_not_win_by_majority(conn, tmp_path):
    # GBP configured at 1.0 and billed on eight rows, USD on one: USD is the reporting currency.
    usd = write_csv(tmp_path / "usd.csv", [line(1, 0, "r-usd", cost="4")])
    gbp = write_csv(tmp_path / "gbp.csv", [line(2, h, f"r-{h}", BillingCurrency="GBP") for h in range(8)])
    ingest(conn, [usd, gbp], tmp_path, IngestSettings(exchange_rates={"GBP": 1.0}))
    assert rows(conn, "select billing_currency, count(*) from focus_billing where exchange_rate = 1.0 "
                      "group by 1 order by 2 desc") == [("GBP", 8), ("USD", 1)]
    assert recorded(conn) == [("USD", "usd_billed")]


def test_the_first_delivered_files_currency_is_recorded_and_replaced_when_the_bill_changes_it(conn, tmp_path):
    eur = write_csv(tmp_path / "eu.csv", [line(1, 0, "r-eu", cost="5", BillingCurrency="EUR")], mtime=1_000 * 10**9)
    ingest(conn, [eur], tmp_path)
    assert recorded(conn) == [("EUR", "first_file")]
    usd = write_csv(tmp_path / "us.csv", [line(1, 1, "r-us", cost="1")], mtime=2_000 * 10**9)
    report = ingest(conn, [eur, usd], tmp_path, IngestSettings(exchange_rates={"EUR": 1.1}))
    assert (report.reporting_currency, report.previous_reporting_currency) == ("USD", "EUR")
    assert recorded(conn) == [("USD", "usd_billed")]  # still one row


def test_a_change_away_from_a_currency_that_no_row_is_billed_in_reloads_and_says_so(conn, tmp_path):
    # The rows' rates cannot tell the previous currency (no row was billed in EUR); the record can.
    bill = write_csv(tmp_path / "usd.csv", [line(1, h, f"r-{h}", cost="10") for h in range(2)])
    ingest(conn, [bill], tmp_path, IngestSettings(reporting_currency="EUR", exchange_rates={"USD": 0.9}))
    report = ingest(conn, [bill], tmp_path, IngestSettings())
    assert (report.reporting_currency, report.previous_reporting_currency) == ("USD", "EUR")
    assert rows(conn, "select distinct exchange_rate from focus_billing") == [(1.0,)]


def test_the_currency_is_recorded_with_the_rows_even_if_the_run_stops_after_them(conn, tmp_path, monkeypatch):
    # The record is written in the transaction that loads a file, not only at the end of the run.
    def stop(*args, **kwargs):
        raise RuntimeError("the process died after loading the files")

    monkeypatch.setattr(ingest_module, "_mark_duplicates", stop)
    bill = write_csv(tmp_path / "usd.csv", [line(1, 0, "r-1", cost="10")])
    with pytest.raises(RuntimeError):
        ingest(conn, [bill], tmp_path, IngestSettings(reporting_currency="EUR", exchange_rates={"USD": 0.9}))
    assert rows(conn, "select count(*) from focus_billing") == [(1,)]
    assert reporting_currency(conn) == "EUR"


def test_a_run_that_loads_nothing_still_records_its_decision(conn, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    report = ingest(conn, [empty], tmp_path, IngestSettings(reporting_currency="JPY"))
    assert report.failed and rows(conn, "select count(*) from focus_billing") == [(0,)]
    assert recorded(conn) == [("JPY", "setting")]


def test_only_a_known_reason_is_recorded(conn):
    conn.execute("create table billing_reporting_currency as select 1")  # never reached
    with pytest.raises(ValueError, match="decided_by must be one of"):
        record_reporting_currency(conn, "USD", "majority")
