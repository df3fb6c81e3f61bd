"""Rules of money: exchange rates, the reporting currency, magnitudes, exact sums, commitments.

Each test puts an independent sum of the input (Python's decimal on the file's text) next to
billing_rollup.
"""

import csv
import math
from decimal import Decimal
from pathlib import Path

import pytest

from finops_assets.lib.billing.exchange_rates import read_exchange_rates
from finops_assets.lib.billing.ingest import IngestSettings
from finops_assets.lib.billing.rollup import rebuild_rollup_window, reconcile_window
from finops_assets_tests.billing.test_focus_ingest import (
    FIXTURES,
    MAY_2025,
    ingest,
    line,
    quarantine,
    rows,
    scalar,
    with_column,
    write_csv,
)


def daily_billed(conn, window=MAY_2025, metric: str = "auto") -> Decimal:
    rebuild_rollup_window(conn, "billing_rollup", *window, metric)
    return scalar(conn, "select coalesce(sum(billed_cost), 0) from billing_rollup")


# ---------------------------------------------------------------------------------------------
# exchange rates


def write_rates(path: Path, lines: list[str]) -> Path:
    path.write_text("currency,rate\n" + "\n".join(lines) + "\n")
    return path


def test_bad_exchange_rates_are_refused_with_file_line_and_rule(tmp_path):
    path = write_rates(tmp_path / "exchange_rates.csv", [
        "EUR,0", "GBP,-1.2", "JPY,nan", "CHF,inf", "CAD,abc", "AUD,0.65", "AUD,0.66", "SEK,0.095", "usd2,1",
        "NOK,1.7e308", "DKK,1e-12", "VND,0.0000393",
    ])
    got = read_exchange_rates(path)
    assert got.rates == {"SEK": 0.095, "VND": 0.0000393}
    assert set(got.refused) == {"EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NOK", "DKK"}
    for currency, line_number in (("EUR", 2), ("GBP", 3), ("JPY", 4), ("CHF", 5), ("CAD", 6), ("AUD", 8),
                                  ("NOK", 11), ("DKK", 12)):
        assert got.refused[currency].startswith(f"{path}: line {line_number}: exchange_rate_invalid: "), currency
    assert "outside the plausible" in got.refused["NOK"]
    assert any("line 10: currency_invalid" in p for p in got.problems)
    assert len(got.problems) == 9


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_ingest_settings_refuse_a_rate_that_would_zero_negate_or_poison_the_spend(rate):
    with pytest.raises(ValueError, match="finite number > 0"):
        IngestSettings(exchange_rates={"EUR": rate})


def test_rows_in_a_currency_with_a_refused_rate_are_quarantined_not_converted(conn, tmp_path):
    rates = read_exchange_rates(write_rates(tmp_path / "exchange_rates.csv", ["EUR,0", "GBP,1.25"]))
    bill = [line(1, 0, "r-usd", cost="10"), line(1, 1, "r-eur", cost="100", BillingCurrency="EUR"),
            line(1, 2, "r-gbp", cost="4", BillingCurrency="GBP")]
    path = write_csv(tmp_path / "bill.csv", bill)
    ingest(conn, [path], tmp_path, IngestSettings(exchange_rates=rates.rates, refused_exchange_rates=rates.refused))
    [((_, row_number), (rule, reason, raw))] = quarantine(conn).items()
    assert (row_number, rule, raw["BillingCurrency"]) == (2, "exchange_rate_invalid", "EUR")
    assert "exchange_rates.csv: line 2" in reason and "BillingCurrency=EUR" in reason
    assert daily_billed(conn) == Decimal(10) + Decimal(4) * Decimal("1.25")


def test_conversion_keeps_cents_and_the_reporting_currency_rows_stay_exact(conn, tmp_path):
    path = write_csv(tmp_path / "bill.csv", [line(1, h, f"r-{h}", cost="0.10") for h in range(10)]
                     + [line(2, 0, "r-eur", cost="3.33", BillingCurrency="EUR")])
    ingest(conn, [path], tmp_path, IngestSettings(exchange_rates={"EUR": 1.1}))
    assert daily_billed(conn) == Decimal("1.00") + Decimal("3.663")


# ---------------------------------------------------------------------------------------------
# magnitudes and precision


@pytest.mark.parametrize("column, value", [("BilledCost", "1e300"), ("BilledCost", "1e16"), ("BilledCost", "-2e9"),
                                           ("EffectiveCost", "5e12"), ("ListCost", "1.7e308")])
def test_an_implausible_amount_is_quarantined_and_the_others_load(conn, tmp_path, column, value):
    bill = [line(1, 0, "r-1", cost="1.50"), line(1, 1, "r-1", cost="1.50", **{column: value}),
            line(1, 2, "r-1", cost="0.25")]
    ingest(conn, [write_csv(tmp_path / "bill.csv", bill)], tmp_path)
    [((_, n), (rule, reason, raw))] = quarantine(conn).items()
    assert (n, rule, raw[column]) == (2, "cost_implausible", value)
    assert "FINOPS_MAX_LINE_ITEM_COST" in reason
    assert daily_billed(conn) == Decimal("1.75")


def test_the_bound_is_in_the_reporting_currency(conn, tmp_path):
    # 2e8 EUR is plausible, but at a rate of 10 it is 2e9 USD, past the default $1e9 bound.
    bill = [line(1, 0, "r-1", cost="2e8", BillingCurrency="EUR"), line(1, 1, "r-1", cost="2e7", BillingCurrency="EUR")]
    ingest(conn, [write_csv(tmp_path / "bill.csv", bill)], tmp_path,
           IngestSettings(reporting_currency="USD", exchange_rates={"EUR": 10.0}))
    assert [(n, rule) for (_, n), (rule, _, _) in quarantine(conn).items()] == [(1, "cost_implausible")]
    assert daily_billed(conn) == Decimal("2e8")  # 2e7 EUR x 10


def test_the_bound_is_configurable_within_what_decimal_sums_hold():
    assert IngestSettings(max_line_item_cost=5e14).max_line_item_cost == 5e14
    for bound in (0.0, -1.0, math.inf, 1e300):
        with pytest.raises(ValueError, match="max line item cost"):
            IngestSettings(max_line_item_cost=bound)


def test_a_huge_line_does_not_swallow_the_cents_of_the_others(conn, tmp_path):
    # In DOUBLE, 500,000,000,000,000 + 0.01 + 0.01 + 0.01 comes back without its cents.
    costs = ["500000000000000", "0.01", "0.01", "0.01", "0.000000000001"]
    path = write_csv(tmp_path / "bill.csv", [line(1, h, "r-big", cost=c) for h, c in enumerate(costs)])
    ingest(conn, [path], tmp_path, IngestSettings(max_line_item_cost=1e15))
    assert quarantine(conn) == {}
    expected = sum(Decimal(c) for c in costs)
    assert float(expected) == 500000000000000.03  # what a double sum would keep
    assert daily_billed(conn) == expected == Decimal("500000000000000.030000000001")
    rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY_2025, "auto")
    assert reconcile_window(conn, *MAY_2025).agrees("billing_rollup_hourly")


# ---------------------------------------------------------------------------------------------
# commitments: the spec's own examples (fixtures/SOURCES.md)


def spec_file(name: str, tmp_path: Path, provider: str = "ExampleCloud") -> Path:
    """The spec's example with the two columns it leaves out (ProviderName, BillingCurrency)."""
    with_provider = with_column(FIXTURES / name, tmp_path / f"p_{name}", "ProviderName", provider)
    return with_column(with_provider, tmp_path / name, "BillingCurrency", "USD")


def spec_sums(*paths: Path) -> dict[str, Decimal]:
    sums = {"billed": Decimal(0), "effective": Decimal(0)}
    for path in paths:
        with path.open(newline="") as handle:
            for r in csv.DictReader(handle):
                if r["BilledCost"]:
                    sums["billed"] += Decimal(r["BilledCost"])
                    sums["effective"] += Decimal(r["EffectiveCost"])
    return sums


JANUARY_2023 = (MAY_2025[0].replace(year=2023, month=1), MAY_2025[1].replace(year=2023, month=2))


def test_an_all_upfront_purchase_is_not_counted_again_when_usage_is_amortized(conn, tmp_path):
    """Spec scenario: an $8,760 one-time purchase (EffectiveCost 0) and an hour of usage covered by it
    (BilledCost 0, EffectiveCost 1.00). The amortized cost is $1; falling back to BilledCost on the
    purchase row, as the row-by-row rule did, reported $8,761."""
    files = [spec_file("commitment_discount_purchase_scenario_1.csv", tmp_path),
             spec_file("commitment_discount_usage_scenario_1.csv", tmp_path)]
    ingest(conn, files, tmp_path)
    sums = spec_sums(*files)
    assert sums == {"billed": Decimal("8760.00"), "effective": Decimal("1.00")}
    rebuild_rollup_window(conn, "billing_rollup", *JANUARY_2023, "auto")
    assert scalar(conn, "select sum(cost) from billing_rollup") == sums["effective"]
    assert scalar(conn, "select sum(billed_cost) from billing_rollup") == sums["billed"]
    assert rows(conn, "select effective_cost_trusted from billing_cost_basis") == [(True,)]


def test_each_provider_gets_its_own_cost_basis(conn, tmp_path):
    """One bill, two providers: a commitment export that fills EffectiveCost (the spec's usage
    scenario 4: covered and on-demand hours) and an AWS-sample-like export that leaves it 0."""
    spec = spec_file("commitment_discount_usage_scenario_4.csv", tmp_path)
    aws = write_csv(tmp_path / "aws.csv", [line(1, h, "i-1", cost="2", EffectiveCost="0") for h in range(20)]
                    + [line(1, 20, "i-1", cost="2", EffectiveCost="1")])
    ingest(conn, [spec, aws], tmp_path)
    rebuild_rollup_window(conn, "billing_rollup", JANUARY_2023[0], MAY_2025[1], "auto")
    got = dict(rows(conn, "select provider, sum(cost) from billing_rollup group by 1"))
    assert got == {"ExampleCloud": spec_sums(spec)["effective"], "AWS": Decimal(42)}


def test_amounts_with_more_digits_than_a_double_holds_stay_exact(conn, tmp_path):
    # 18 significant digits: a double keeps about 16, so 98765432.1234567891 would come back altered.
    costs = ["98765432.1234567891", "0.0000000001", "12345678.9876543219"]
    assert float(Decimal(costs[0])) != Decimal(costs[0])
    path = write_csv(tmp_path / "bill.csv", [line(1, h, "r-1", cost=c) for h, c in enumerate(costs)])
    ingest(conn, [path], tmp_path)
    assert [c for (c,) in rows(conn, "select billed_cost from focus_billing order by source_row")] == \
        [Decimal(c) for c in costs]
    assert daily_billed(conn) == sum(Decimal(c) for c in costs)


def test_a_warehouse_of_the_old_layout_is_rebuilt_from_the_files(conn, tmp_path):
    # Before DECIMAL money: the same tables with DOUBLE costs and no delivery column.
    conn.execute("create table focus_billing (source_file varchar, billed_cost double)")
    conn.execute("insert into focus_billing values ('gone.csv', 1e16)")
    conn.execute("create table billing_files (source_file varchar primary key, fingerprint varchar)")
    path = write_csv(tmp_path / "bill.csv", [line(1, 0, "r-1", cost="0.10"), line(1, 1, "r-1", cost="0.20")])
    ingest(conn, [path], tmp_path)
    assert rows(conn, "select data_type from information_schema.columns "
                      "where table_name = 'focus_billing' and column_name = 'billed_cost'") == [("DECIMAL(38,12)",)]
    assert daily_billed(conn) == Decimal("0.30")


def test_a_purchase_without_effective_cost_in_an_amortized_export_is_not_counted_twice(conn, tmp_path):
    usage = [line(1, h, "i-1", cost="10", EffectiveCost="8") for h in range(4)]
    purchases = [line(1, 0, "ri-1", cost="1200", EffectiveCost="", ChargeCategory="Purchase"),
                 line(1, 0, "ri-2", cost="1200", EffectiveCost="0", ChargeCategory="Purchase")]
    ingest(conn, [write_csv(tmp_path / "bill.csv", usage + purchases)], tmp_path)
    assert daily_billed(conn) == Decimal(2440)
    assert rows(conn, "select effective_cost_trusted from billing_cost_basis") == [(True,)]
    assert dict(rows(conn, "select resource_id, sum(cost) from billing_rollup group by 1")) == \
        {"i-1": Decimal(32), "ri-1": Decimal(0), "ri-2": Decimal(0)}


@pytest.mark.parametrize("sql_type, text, expected", [
    ("decimal(38, 12)", "123456789.987654321987", "123456789.987654321987"),
    ("decimal(18, 4)", "1234.5678", "1234.5678"),
    ("float", "123456.78", "123456.78"),      # float32: its own shortest text, not the widened double
    ("double", "98765.4321", "98765.4321"),
    ("double", "0.1", "0.1"),
])
def test_typed_parquet_money_keeps_what_the_file_wrote(conn, tmp_path, sql_type, text, expected):
    import duckdb as scratch_db

    staged = write_csv(tmp_path / "staged.csv", [line(1 + h // 24 % 28, h % 24, f"r-{h}", cost=text) for h in range(1000)])
    path = tmp_path / "bill.parquet"
    with scratch_db.connect() as scratch:
        scratch.execute(f"copy (select * replace (BilledCost::{sql_type} as BilledCost, EffectiveCost::{sql_type} as "
                        f"EffectiveCost, ListCost::{sql_type} as ListCost) from read_csv('{staged}', all_varchar = true)) "
                        f"to '{path}' (format parquet)")
    staged.unlink()
    ingest(conn, [path], tmp_path)
    assert daily_billed(conn) == Decimal(expected) * 1000


def test_exchange_rates_saved_by_excel_with_a_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "exchange_rates.csv"
    path.write_bytes("\ufeffcurrency,rate\r\nGBP,1.25\r\n".encode("utf-8"))
    assert read_exchange_rates(path).rates == {"GBP": 1.25}


@pytest.mark.parametrize("setting, expected", [("usd ", "USD"), (" eur", "EUR")])
def test_the_reporting_currency_setting_is_trimmed(setting, expected):
    assert IngestSettings(reporting_currency=setting).reporting_currency == expected


@pytest.mark.parametrize("setting", ["US$", "dollars", "", "U S"])
def test_a_reporting_currency_that_is_not_a_code_is_refused(setting):
    with pytest.raises(ValueError, match="3-letter ISO 4217"):
        IngestSettings(reporting_currency=setting)


def test_unconverted_money_and_a_changed_reporting_currency_are_reported(conn, tmp_path):
    eur = write_csv(tmp_path / "eu-2025-05.csv", [line(1, 0, "r-eu", cost="1000000", BillingCurrency="EUR")],
                    mtime=1_000 * 10**9)
    assert ingest(conn, [eur], tmp_path).reporting_currency == "EUR"
    usd = write_csv(tmp_path / "marketplace-2025-05.csv", [line(1, 1, "r-us", cost="0.01")], mtime=2_000 * 10**9)
    report = ingest(conn, [eur, usd], tmp_path)
    assert (report.reporting_currency, report.previous_reporting_currency) == ("USD", "EUR")
    assert report.unconverted == {"EUR": 1}
