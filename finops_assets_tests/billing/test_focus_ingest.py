"""FOCUS ingestion without Dagster: files in, focus_billing / billing_quarantine / billing_files out.

Expected values are computed independently of the code under test (Python's csv and json modules
on the original files), never read back from the tables being checked.
"""

import csv
import gzip
import json
import os
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from finops_assets.lib.billing.ingest import (
    IngestSettings,
    discover_billing_files,
    ingest_billing_files,
)
from finops_assets.lib.billing.owners import OwnerRules
from finops_assets.lib.billing.rollup import rebuild_rollup_window, reconcile_window

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE = FIXTURES / "focus_sample.csv"  # FOCUS-Sample-Data FOCUS-1.0/focus_sample.csv, see fixtures/SOURCES.md
SPEC_FLEXIBILITY = FIXTURES / "zero_percent_utilization_without_commitment_discount_flexibility.csv"
SPEC_PURCHASE = FIXTURES / "commitment_discount_purchase_scenario_2.csv"

SEPTEMBER_2024 = (date(2024, 9, 1), date(2024, 10, 1))
MAY_2025 = (date(2025, 5, 1), date(2025, 6, 1))

COLUMNS = (
    "BillingAccountId", "SubAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeFrequency", "ChargeDescription", "ServiceName", "ResourceId", "RegionId",
    "BillingCurrency", "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "Tags",
)


# ---------------------------------------------------------------------------------------------
# helpers (the `conn` fixture is in conftest.py; other billing tests import these)


def line(day: int = 1, hour: int = 0, resource: str = "i-1", cost: str = "1.00", **overrides: str) -> dict[str, str]:
    """One hourly FOCUS usage row in May 2025, as text, as an export would write it."""
    start = datetime(2025, 5, day, hour)
    row = {
        "BillingAccountId": "acct-1",
        "SubAccountId": "sub-1",
        "ProviderName": "AWS",
        "ChargePeriodStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ChargePeriodEnd": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargeDescription": f"compute for {resource}",
        "ServiceName": "Amazon EC2",
        "ResourceId": resource,
        "RegionId": "us-east-1",
        "BillingCurrency": "USD",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ConsumedQuantity": "1",
        "Tags": json.dumps({"department": "retail", "team": "checkout"}),
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns=COLUMNS, header=None, mtime: int | None = None) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def ingest(conn, files, tmp_path: Path, settings: IngestSettings | None = None, **kwargs):
    return ingest_billing_files(conn, list(files), settings or IngestSettings(), staging_dir=tmp_path, **kwargs)


def rows(conn, query: str, params: dict | None = None) -> list[tuple]:
    return conn.execute(query, params or {}).fetchall()


def scalar(conn, query: str, params: dict | None = None):
    return rows(conn, query, params)[0][0]


def outcomes(report) -> dict[str, str]:
    return {Path(f.source_file).name: f.status for f in report.files}


def quarantine(conn) -> dict[tuple[str, int], tuple[str, str, dict]]:
    return {
        (Path(f).name, n): (rule, reason, json.loads(raw))
        for f, n, rule, reason, raw in rows(
            conn, "select source_file, row_number, rule, reason, raw_record from billing_quarantine")
    }


def read_sample() -> list[dict[str, str]]:
    with SAMPLE.open(newline="") as handle:
        return list(csv.DictReader(handle))


def is_null_text(value: str) -> bool:
    return value in ("", "NULL")


def decimal_or_none(value: str) -> Decimal | None:
    return None if is_null_text(value) else Decimal(value)


def with_column(source: Path, target: Path, name: str, value: str) -> Path:
    """A copy of a real file with one column added (the spec's examples omit ProviderName)."""
    text = source.read_text()
    lines = text.split("\n")
    out = [lines[0] + f",{name}"] + [(ln + f",{value}") if ln.strip() else ln for ln in lines[1:]]
    target.write_text("\n".join(out))
    return target


# ---------------------------------------------------------------------------------------------
# 1. the official FOCUS sample


def test_official_sample_every_row_accounted_for_and_billed_cost_reconciles(conn, tmp_path):
    report = ingest(conn, [SAMPLE], tmp_path)
    [outcome] = report.files
    source_rows = read_sample()
    assert len(source_rows) == 1000
    assert outcome.status == "loaded" and outcome.error is None
    assert outcome.rows_read == 1000
    assert outcome.rows_accepted + outcome.rows_quarantined == 1000
    # The sample's quirks (DESIGN.md section 9) must be survived, not quarantined.
    assert outcome.rows_quarantined == 0, quarantine(conn)
    assert report.reporting_currency == "USD"

    ledger = rows(conn, "select status, rows_read, rows_accepted, rows_quarantined from billing_files")
    assert ledger == [("loaded", 1000, outcome.rows_accepted, outcome.rows_quarantined)]
    assert scalar(conn, "select count(*) from focus_billing") == outcome.rows_accepted
    assert scalar(conn, "select count(*) from billing_quarantine") == outcome.rows_quarantined

    quarantined = {n for _, n in quarantine(conn)}
    expected = sum(Decimal(r["BilledCost"]) for n, r in enumerate(source_rows, start=1) if n not in quarantined)
    loaded = scalar(conn, "select sum(billed_cost) from focus_billing where not is_duplicate")
    assert loaded == expected  # exact: money is DECIMAL from the text to the rollup

    start, end = SEPTEMBER_2024
    for table in ("billing_rollup", "billing_rollup_hourly"):
        assert rebuild_rollup_window(conn, table, start, end, "auto") > 0
        billed, line_items = rows(conn, f"select sum(billed_cost), sum(line_items) from {table}")[0]
        assert billed == expected
        assert line_items == 1000
    assert reconcile_window(conn, start, end).agrees("billing_rollup")
    assert reconcile_window(conn, start, end).agrees("billing_rollup_hourly")


def test_official_sample_quirks_are_survived(conn, tmp_path):
    ingest(conn, [SAMPLE], tmp_path)
    source_rows = read_sample()
    loaded = {
        n: (cps, cpe, bps, resource_id, pricing_category, sku_price_id, consumed, tags)
        for n, cps, cpe, bps, resource_id, pricing_category, sku_price_id, consumed, tags in rows(
            conn,
            "select source_row, charge_period_start, charge_period_end, billing_period_start, resource_id, "
            "pricing_category, sku_price_id, consumed_quantity, tags from focus_billing")
    }
    assert sorted(loaded) == list(range(1, 1001))

    # Timestamps written '2024-09-18 22:00:00' (no T, no Z) are UTC wall-clock times, unshifted.
    def parse(text: str) -> datetime:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")

    assert all(" " in r["ChargePeriodStart"] and "T" not in r["ChargePeriodStart"] for r in source_rows)
    for n, r in enumerate(source_rows, start=1):
        assert loaded[n][0:3] == (parse(r["ChargePeriodStart"]), parse(r["ChargePeriodEnd"]),
                                  parse(r["BillingPeriodStart"])), n
    assert loaded[1][0] == datetime(2024, 9, 18, 22, 0)

    # 'NULL' and '' are both null, in text and numeric columns (the sample uses both, even in one column).
    for column, index in (("ResourceId", 3), ("PricingCategory", 4), ("SkuPriceId", 5), ("ConsumedQuantity", 6),
                          ("Tags", 7)):
        expected_nulls = {n for n, r in enumerate(source_rows, start=1) if is_null_text(r[column])}
        assert expected_nulls, column
        assert {n for n, v in loaded.items() if v[index] is None} == expected_nulls, column
    assert {r["SkuPriceId"] for r in source_rows} >= {"", "NULL"}  # both spellings really occur
    for column in ("resource_id", "pricing_category", "sku_price_id", "tags", "resource_name", "charge_class",
                   "commitment_discount_id", "billing_account_name", "region_id"):
        assert scalar(conn, f"select count(*) from focus_billing where {column} in ('', 'NULL')") == 0, column

    # 'Usage-based' (7 Oracle rows) is the same charge frequency as 'Usage-Based'.
    assert Counter(r["ChargeFrequency"] for r in source_rows)["Usage-based"] == 7
    frequencies = dict(rows(conn, "select charge_frequency, count(*) from focus_billing group by 1"))
    assert frequencies == {"Usage-Based": 999, "One-Time": 1}

    # The extra non-x_ column 'Id' is listed, not silently dropped; it stays in raw records.
    extra, missing = rows(conn, "select extra_columns, missing_optional_columns from billing_files")[0]
    assert "Id" in extra.split(", ")
    assert "host_provider_name" in missing.split(", ")

    # Owners: business_unit is a department alias; the tag key ' org' (leading space) is 'org'.
    owners = dict(rows(conn, "select source_row, department from focus_billing"))
    assert owners[2] == "ViennaAI"
    for n, r in enumerate(source_rows, start=1):
        tags = {} if is_null_text(r["Tags"]) else json.loads(r["Tags"])
        if "business_unit" in tags:
            assert owners[n] == tags["business_unit"], n
    assert Counter(owners.values())["unallocated"] > 0  # untagged spend is kept, under 'unallocated'


def test_official_sample_tag_key_with_leading_space_is_matched(conn, tmp_path):
    rules = OwnerRules(department_keys=("business_unit",), team_keys=("org",))
    ingest(conn, [SAMPLE], tmp_path, IngestSettings(owner_rules=rules))
    teams = dict(rows(conn, "select source_row, team from focus_billing"))
    checked = 0
    for n, r in enumerate(read_sample(), start=1):
        tags = {} if is_null_text(r["Tags"]) else json.loads(r["Tags"])
        org = [v for k, v in tags.items() if k.strip().lower() == "org"]
        assert teams[n] == (org[0] if org else "unallocated"), n
        checked += bool(org) and " org" in tags
    assert checked > 0


def test_official_sample_auto_cost_metric_decides_per_provider_whether_effective_cost_is_filled(conn, tmp_path):
    ingest(conn, [SAMPLE], tmp_path)
    expected: dict[str, Counter] = {}
    billed_usage, billed_usage_with_effective = Counter(), Counter()
    for r in read_sample():
        billed, effective = Decimal(r["BilledCost"]), decimal_or_none(r["EffectiveCost"])
        sums = expected.setdefault(r["ProviderName"], Counter())
        sums["billed"] += billed
        sums["effective"] += effective or 0
        sums["effective_or_billed"] += billed if effective is None else effective
        if r["ChargeCategory"] == "Usage" and billed != 0:
            billed_usage[r["ProviderName"]] += 1
            billed_usage_with_effective[r["ProviderName"]] += bool(effective)
    # The quirk: AWS fills EffectiveCost on 10 of its 614 billed usage rows; Microsoft on all of them.
    assert (billed_usage["AWS"], billed_usage_with_effective["AWS"]) == (614, 10)
    assert billed_usage["Microsoft"] == billed_usage_with_effective["Microsoft"] == 50
    assert billed_usage_with_effective["Oracle"] == 0
    auto = {"AWS": "billed", "Microsoft": "effective_or_billed", "Oracle": "billed"}
    start, end = SEPTEMBER_2024
    for metric in ("auto", "billed", "effective"):
        rebuild_rollup_window(conn, "billing_rollup", start, end, metric)
        got = dict(rows(conn, "select provider, sum(cost) from billing_rollup group by 1"))
        assert set(got) == {"AWS", "Microsoft", "Oracle"}
        for provider, sums in expected.items():
            assert got[provider] == sums[auto[provider] if metric == "auto" else metric], (metric, provider)
    assert rows(conn, "select provider_name, effective_cost_trusted from billing_cost_basis order by 1") \
        == [("AWS", False), ("Microsoft", True), ("Oracle", False)]


# ---------------------------------------------------------------------------------------------
# 2. quarantine rules, one hand-made file


def test_each_quarantine_rule_names_file_record_rule_and_keeps_raw_record(conn, tmp_path):
    multi_line = "first line of the description\nsecond line, with a comma and \"quotes\""
    bad = [
        line(1, 0, "r-ok-1", ChargeDescription=multi_line),                     # 1 accepted (3 text lines)
        line(1, 1, "r-no-start", ChargePeriodStart=""),                          # 2
        line(1, 2, "r-dollar", cost="1.00", BilledCost="$10,000.00"),            # 3
        line(1, 3, "r-tags-text", Tags="team=payments"),                         # 4
        line(1, 4, "r-tags-array", Tags='["team", "payments"]'),                 # 5
        line(1, 5, "r-category", ChargeCategory="Refund"),                       # 6
        line(1, 6, "r-date", ChargePeriodStart="5/1/25", ChargePeriodEnd=""),    # 7
        line(1, 7, "r-ok-2", ChargeCategory="usage", ChargeDescription="a\r\nb"),  # 8 accepted
        line(1, 8, "r-no-currency", BillingCurrency=""),                         # 9
        line(1, 9, "r-nan", BilledCost="NaN"),                                   # 10
        line(1, 10, "r-end-before-start", ChargePeriodEnd="2025-05-01T09:00:00Z"),  # 11
        line(1, 11, "r-ok-3", BilledCost=" 2.5 ", Tags="NULL"),                  # 12 accepted
    ]
    path = write_csv(tmp_path / "bill.csv", bad)
    assert path.read_text().count("\n") > len(bad) + 1  # records are not lines in this file

    report = ingest(conn, [path], tmp_path)
    [outcome] = report.files
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_quarantined) == (12, 3, 9)

    got = quarantine(conn)
    expected_rules = {
        2: "charge_period_start_missing",
        3: "cost_unparseable",
        4: "tags_not_json_object",
        5: "tags_not_json_object",
        6: "charge_category_invalid",
        7: "charge_period_start_implausible",
        9: "billing_currency_missing",
        10: "cost_unparseable",
        11: "charge_period_end_before_start",
    }
    assert {n: rule for (_, n), (rule, _, _) in got.items()} == expected_rules
    assert {f for f, _ in got} == {"bill.csv"}
    assert rows(conn, "select distinct source_file from billing_quarantine") == [(str(path),)]

    for (_, n), (rule, reason, raw) in got.items():
        assert reason.startswith(rule + ":"), reason
        original = bad[n - 1]
        assert raw["ResourceId"] == original["ResourceId"]  # the record can be found in the source
        assert raw["ChargeDescription"] == original["ChargeDescription"]
    assert got[("bill.csv", 3)][2]["BilledCost"] == "$10,000.00"
    assert "BilledCost=$10,000.00" in got[("bill.csv", 3)][1]
    assert got[("bill.csv", 4)][2]["Tags"] == "team=payments"
    assert "not valid JSON" in got[("bill.csv", 4)][1]
    assert got[("bill.csv", 5)][2]["Tags"] == '["team", "payments"]'
    assert "list" in got[("bill.csv", 5)][1]
    assert got[("bill.csv", 6)][2]["ChargeCategory"] == "Refund"
    assert "Refund" in got[("bill.csv", 6)][1]
    assert got[("bill.csv", 7)][2]["ChargePeriodStart"] == "5/1/25"
    assert "5/1/25" in got[("bill.csv", 7)][1]
    assert got[("bill.csv", 2)][2]["ChargePeriodStart"] is None
    assert got[("bill.csv", 10)][2]["BilledCost"] == "NaN"

    accepted = rows(conn, "select source_row, resource_id, charge_category, charge_description, billed_cost, "
                          "department, team from focus_billing order by source_row")
    assert accepted == [
        (1, "r-ok-1", "Usage", multi_line, 1.0, "retail", "checkout"),
        (8, "r-ok-2", "Usage", "a\r\nb", 1.0, "retail", "checkout"),
        (12, "r-ok-3", "Usage", "compute for r-ok-3", 2.5, "unallocated", "unallocated"),
    ]


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
@pytest.mark.parametrize("column", ["BilledCost", "EffectiveCost", "ConsumedQuantity"])
def test_non_finite_numbers_are_quarantined_not_summed(conn, tmp_path, column, value):
    path = write_csv(tmp_path / "bill.csv", [line(1, 0, "r-1"), line(1, 1, "r-2", **{column: value})])
    ingest(conn, [path], tmp_path)
    assert [(n, rule) for (_, n), (rule, _, _) in quarantine(conn).items()] == [
        (2, "number_unparseable" if column == "ConsumedQuantity" else "cost_unparseable")]
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert rows(conn, "select sum(billed_cost), sum(cost), sum(consumed_quantity) from billing_rollup") == [(1.0, 1.0, 1.0)]


def test_currency_without_rate_is_quarantined_and_with_a_rate_converted(conn, tmp_path):
    bill = [
        line(1, 0, "r-usd-1", cost="1.00"),
        line(1, 1, "r-eur", cost="10.00", BillingCurrency="EUR"),
        line(1, 2, "r-usd-2", cost="2.00", BillingCurrency="usd"),
        line(1, 3, "r-usd-3", cost="3.00"),
    ]
    path = write_csv(tmp_path / "bill.csv", bill)

    report = ingest(conn, [path], tmp_path)
    assert report.reporting_currency == "USD"
    got = quarantine(conn)
    assert list(got) == [("bill.csv", 2)]
    rule, reason, raw = got[("bill.csv", 2)]
    assert rule == "currency_without_rate" and "EUR" in reason
    assert raw["BillingCurrency"] == "EUR" and raw["BilledCost"] == "10.00"
    assert scalar(conn, "select sum(billed_cost) from focus_billing") == pytest.approx(6.0)

    # Same file, a rate now configured: the settings change forces a reload; nothing is left quarantined.
    report = ingest(conn, [path], tmp_path, IngestSettings(exchange_rates={"eur": 1.1}))
    assert outcomes(report) == {"bill.csv": "loaded"}
    assert quarantine(conn) == {}
    eur = rows(conn, "select billing_currency, exchange_rate, billed_cost, effective_cost, list_cost "
                     "from focus_billing where resource_id = 'r-eur'")
    assert eur == [("EUR", 1.1, pytest.approx(11.0), pytest.approx(11.0), pytest.approx(11.0))]
    assert rows(conn, "select distinct billing_currency, exchange_rate from focus_billing where resource_id <> 'r-eur'") \
        == [("USD", 1.0)]
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert scalar(conn, "select sum(billed_cost) from billing_rollup") == pytest.approx(17.0)


def test_explicit_reporting_currency_converts_the_majority_currency(conn, tmp_path):
    path = write_csv(tmp_path / "bill.csv", [line(1, 0, "r-1", cost="10"), line(1, 1, "r-2", cost="20")])
    report = ingest(conn, [path], tmp_path, IngestSettings(reporting_currency="eur", exchange_rates={"USD": 0.5}))
    assert report.reporting_currency == "EUR"
    assert rows(conn, "select billing_currency, exchange_rate, billed_cost from focus_billing order by source_row") \
        == [("USD", 0.5, 5.0), ("USD", 0.5, 10.0)]


def test_spec_example_with_an_impossible_hour_quarantines_that_record(conn, tmp_path):
    # The spec's own example writes ChargePeriodEnd 2023-02-01T30:00:00Z (hour 30) in its 3rd record.
    assert "2023-02-01T30:00:00Z" in SPEC_PURCHASE.read_text().splitlines()[3]
    path = with_column(SPEC_PURCHASE, tmp_path / "purchase.csv", "ProviderName", "ExampleCloud")
    report = ingest(conn, [path], tmp_path)
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for f in report.files] == [(3, 2, 1)]
    [((_, n), (rule, reason, raw))] = quarantine(conn).items()
    assert (n, rule) == (3, "charge_period_end_unparseable")
    assert raw["ChargePeriodEnd"] == "2023-02-01T30:00:00Z" and "2023-02-01T30:00:00Z" in reason
    assert rows(conn, "select source_row, charge_category, charge_frequency, billing_currency, billed_cost "
                      "from focus_billing order by 1") == [(1, "Purchase", "Recurring", "USD", 1.0),
                                                            (2, "Purchase", "Recurring", "USD", 1.0)]


def test_spec_commitment_example_loads_with_text_nulls_blank_lines_and_odd_header_case(conn, tmp_path):
    text = SPEC_FLEXIBILITY.read_text()
    assert "\n\n" in text and ",null," in text and "SkuPriceid" in text  # the quirks this test is about
    path = with_column(SPEC_FLEXIBILITY, tmp_path / "flex.csv", "ProviderName", "ExampleCloud")
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_quarantined) == (3, 3, 0), quarantine(conn)
    got = rows(conn, "select source_row, charge_category, pricing_category, commitment_discount_status, "
                     "commitment_discount_id, sku_price_id, consumed_quantity, consumed_unit, billed_cost, "
                     "effective_cost, list_cost from focus_billing order by source_row")
    assert got == [
        (1, "Purchase", "Standard", None, "<my-commitment-discount-id>", "VM_LARGE_COMMITTED_PURCHASE_NO_UPFRONT",
         None, None, 1.5, 0.0, 3.0),
        (2, "Usage", "Committed", "Unused", "<my-commitment-discount-id>", "VM_LARGE_COMMITTED_HOUR",
         1.0, "Hour", 0.0, 1.5, 3.0),
        (3, "Usage", "Standard", None, None, "VM_MEDIUM_ON_DEMAND_HOUR", 1.0, "Hour", 2.0, 2.0, 2.0),
    ]
    extra = scalar(conn, "select extra_columns from billing_files").split(", ")
    assert "x_CommitmentDiscountUnitPrice" in extra and "SkuPriceid" not in extra


# ---------------------------------------------------------------------------------------------
# 3. files that cannot be read


def test_unreadable_files_fail_alone_with_a_message_naming_file_and_problem(conn, tmp_path):
    good = write_csv(tmp_path / "good.csv", [line(1, h, "r-good") for h in range(3)])
    full = gzip.compress(write_csv(tmp_path / "whole.csv", [line(1, h % 24, f"r-{h}") for h in range(2000)])
                         .read_bytes())
    (tmp_path / "whole.csv").unlink()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(full[: len(full) // 2])
    no_billed = write_csv(tmp_path / "no_billed.csv", [line(1, 0, "r-x")],
                          columns=tuple(c for c in COLUMNS if c != "BilledCost"))

    report = ingest(conn, [no_billed, good, truncated], tmp_path)

    assert outcomes(report) == {"no_billed.csv": "failed", "good.csv": "loaded", "truncated.csv.gz": "failed"}
    errors = {Path(f.source_file).name: f.error for f in report.failed}
    assert "BilledCost" in errors["no_billed.csv"] and "missing" in errors["no_billed.csv"]
    assert "ChargePeriodStart" not in errors["no_billed.csv"].split("missing:")[1].split("(")[0]
    assert "cannot be read" in errors["truncated.csv.gz"] and "GZIP" in errors["truncated.csv.gz"].upper()

    ledger = {Path(f).name: (status, error) for f, status, error in
              rows(conn, "select source_file, status, error from billing_files")}
    assert ledger["good.csv"] == ("loaded", None)
    assert ledger["no_billed.csv"] == ("failed", errors["no_billed.csv"])
    assert ledger["truncated.csv.gz"] == ("failed", errors["truncated.csv.gz"])
    assert rows(conn, "select distinct source_file from focus_billing") == [(str(good),)]
    assert scalar(conn, "select count(*) from focus_billing") == 3


def test_a_file_corrupted_after_loading_keeps_its_last_good_rows(conn, tmp_path):
    path = write_csv(tmp_path / "bill.csv", [line(1, h, "r-1", cost="2") for h in range(3)], mtime=1_000 * 10**9)
    assert outcomes(ingest(conn, [path], tmp_path)) == {"bill.csv": "loaded"}

    write_csv(path, [line(1, 0, "r-1")], columns=tuple(c for c in COLUMNS if c != "BilledCost"),
              mtime=2_000 * 10**9)
    report = ingest(conn, [path], tmp_path)
    assert outcomes(report) == {"bill.csv": "failed"}
    assert "BilledCost" in report.failed[0].error
    assert scalar(conn, "select count(*) from focus_billing") == 3
    status, error, accepted = rows(conn, "select status, error, rows_accepted from billing_files")[0]
    assert (status, accepted) == ("failed", 3) and "BilledCost" in error
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert scalar(conn, "select sum(billed_cost) from billing_rollup") == pytest.approx(6.0)

    # Still broken next run: it is tried again (never 'unchanged'), and the old rows stay.
    assert outcomes(ingest(conn, [path], tmp_path)) == {"bill.csv": "failed"}
    assert scalar(conn, "select count(*) from focus_billing") == 3

    # Repaired: the new version replaces the old one.
    write_csv(path, [line(1, h, "r-1", cost="5") for h in range(4)], mtime=3_000 * 10**9)
    assert outcomes(ingest(conn, [path], tmp_path)) == {"bill.csv": "loaded"}
    assert rows(conn, "select count(*), sum(billed_cost) from focus_billing") == [(4, 20.0)]
    assert rows(conn, "select status, error, rows_accepted from billing_files") == [("loaded", None, 4)]


def test_a_corrupted_newer_delivery_does_not_double_count_the_older_one(conn, tmp_path):
    older = write_csv(tmp_path / "month_so_far.csv", [line(d, 0, "r-1", cost="1") for d in (1, 2)],
                      mtime=1_000 * 10**9)
    newer = write_csv(tmp_path / "month_full.csv", [line(d, 0, "r-1", cost="1") for d in (1, 2, 3)],
                      mtime=2_000 * 10**9)
    ingest(conn, [older, newer], tmp_path)
    assert scalar(conn, "select sum(billed_cost) from focus_billing where not is_duplicate") == 3.0

    newer.write_bytes(b"ChargePeriodStart,ProviderName\n2025-05-01,AWS\n")
    os.utime(newer, ns=(3_000 * 10**9, 3_000 * 10**9))
    report = ingest(conn, [older, newer], tmp_path)
    assert outcomes(report) == {"month_so_far.csv": "unchanged", "month_full.csv": "failed"}
    # The newer delivery's last good rows are kept, so they still supersede the older delivery.
    assert scalar(conn, "select sum(billed_cost) from focus_billing where not is_duplicate") == 3.0
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert rows(conn, "select sum(billed_cost), sum(line_items) from billing_rollup") == [(3.0, 3)]


# ---------------------------------------------------------------------------------------------
# 4. formats and FOCUS versions


FORMAT_ROWS = [
    line(1, 0, "r-1", cost="0.1"),
    line(1, 23, "r-2", cost="1234.5678", EffectiveCost="1000.25", ListCost="", ConsumedQuantity="NULL"),
    line(2, 5, "r-3", cost="0", EffectiveCost="0", Tags=json.dumps({"user:Team": "search", "Dept": "web"})),
    line(3, 7, "r-4", cost="-2.5", ChargeCategory="Credit", ChargeFrequency="One-Time", Tags="", RegionId="NULL"),
]
SNAPSHOT = "select * exclude (source_file) from focus_billing order by source_row"


def test_csv_gzip_and_typed_parquet_give_the_same_rows(conn, tmp_path):
    csv_path = write_csv(tmp_path / "bill.csv", FORMAT_ROWS)
    gz_path = write_csv(tmp_path / "bill.csv.gz", FORMAT_ROWS)
    parquet_path = tmp_path / "bill.parquet"
    with duckdb.connect() as scratch:
        scratch.execute("set TimeZone = 'UTC'")
        scratch.execute(f"""
            copy (
                select * replace (
                    ChargePeriodStart::timestamptz::timestamp as ChargePeriodStart,
                    ChargePeriodEnd::timestamptz as ChargePeriodEnd,
                    BilledCost::double as BilledCost,
                    EffectiveCost::double as EffectiveCost,
                    ListCost::double as ListCost,
                    ConsumedQuantity::double as ConsumedQuantity)
                from read_csv('{csv_path}', all_varchar = true, nullstr = ['NULL', ''])
            ) to '{parquet_path}' (format parquet)""")
        types = dict(scratch.sql(f"select name, type from parquet_schema('{parquet_path}')").fetchall())
    assert types["BilledCost"] == "DOUBLE" and types["ChargePeriodStart"] == "INT64"

    snapshots = {}
    for path in (csv_path, gz_path, parquet_path):
        report = ingest(conn, [path], tmp_path)
        assert outcomes(report)[path.name] == "loaded"
        assert [f.rows_accepted for f in report.files if f.status == "loaded"] == [4]
        assert scalar(conn, "select count(distinct source_file) from focus_billing") == 1
        snapshots[path.name] = rows(conn, SNAPSHOT)
    assert snapshots["bill.csv"] == snapshots["bill.csv.gz"] == snapshots["bill.parquet"]
    got = rows(conn, "select source_row, charge_period_start, usage_date, billed_cost, effective_cost, list_cost, "
                     "consumed_quantity, region_id, department, team from focus_billing order by source_row")
    D = Decimal
    assert got == [
        (1, datetime(2025, 5, 1, 0), date(2025, 5, 1), D("0.1"), D("0.1"), D("0.1"), 1.0, "us-east-1", "retail",
         "checkout"),
        (2, datetime(2025, 5, 1, 23), date(2025, 5, 1), D("1234.5678"), D("1000.25"), None, None, "us-east-1",
         "retail", "checkout"),
        (3, datetime(2025, 5, 2, 5), date(2025, 5, 2), 0, 0, 0, 1.0, "us-east-1", "web", "search"),
        (4, datetime(2025, 5, 3, 7), date(2025, 5, 3), D("-2.5"), D("-2.5"), D("-2.5"), 1.0, None, "unallocated",
         "unallocated"),
    ]


def test_parquet_with_tags_as_a_map_resolves_owners(conn, tmp_path):
    csv_path = write_csv(tmp_path / "source.csv", FORMAT_ROWS[:3])
    parquet_path = tmp_path / "bill.parquet"
    with duckdb.connect() as scratch:
        scratch.execute(f"""
            copy (
                select * replace (
                    case when Tags is null then null
                         else json_transform(Tags, '"MAP(VARCHAR, VARCHAR)"') end as Tags)
                from read_csv('{csv_path}', all_varchar = true, nullstr = ['NULL', ''])
            ) to '{parquet_path}' (format parquet)""")
        assert "MAP" in scratch.sql(f"select typeof(Tags) from '{parquet_path}' limit 1").fetchall()[0][0]
    [outcome] = ingest(conn, [parquet_path], tmp_path).files
    assert (outcome.rows_accepted, outcome.rows_quarantined) == (3, 0), quarantine(conn)
    assert rows(conn, "select department, team from focus_billing order by source_row") == [
        ("retail", "checkout"), ("retail", "checkout"), ("web", "search")]


def test_focus_13_service_and_host_provider_names_load(conn, tmp_path):
    columns = tuple("ServiceProviderName" if c == "ProviderName" else c for c in COLUMNS) + ("HostProviderName",)
    bill = [dict(line(1, h, f"r-{h}"), ServiceProviderName="Snowflake", HostProviderName="AWS") for h in range(2)]
    path = write_csv(tmp_path / "focus13.csv", bill, columns=columns)
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.rows_accepted) == ("loaded", 2)
    assert rows(conn, "select distinct provider_name, host_provider_name from focus_billing") == [("Snowflake", "AWS")]
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert rows(conn, "select provider, sum(line_items) from billing_rollup group by 1") == [("Snowflake", 2)]


def test_missing_provider_column_names_both_accepted_spellings(conn, tmp_path):
    path = write_csv(tmp_path / "noprovider.csv", [line()], columns=tuple(c for c in COLUMNS if c != "ProviderName"))
    [outcome] = ingest(conn, [path], tmp_path).files
    assert outcome.status == "failed"
    assert "ProviderName or ServiceProviderName" in outcome.error
    # The spec's own example files have no provider column at all.
    report = ingest(conn, [SPEC_FLEXIBILITY], tmp_path)
    assert outcomes(report) == {"noprovider.csv": "removed", SPEC_FLEXIBILITY.name: "failed"}
    assert "ProviderName or ServiceProviderName" in report.failed[0].error


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_headers_in_other_case_and_with_spaces_load(conn, tmp_path, suffix):
    header = [f"  {c.upper()} " if i % 2 else c.lower() for i, c in enumerate(COLUMNS)]
    reference = write_csv(tmp_path / "reference.csv", FORMAT_ROWS)
    odd = write_csv(tmp_path / "odd.csv", FORMAT_ROWS, header=header)
    if suffix == ".parquet":  # DuckDB's CSV reader trims header names; Parquet keeps them as written
        target = tmp_path / "odd.parquet"
        renames = ", ".join(f'"{c}" as "{h}"' for c, h in zip(COLUMNS, header))
        with duckdb.connect() as scratch:
            scratch.execute(f"copy (select {renames} from read_csv('{reference}', all_varchar = true)) "
                            f"to '{target}' (format parquet)")
            names = [r[0] for r in scratch.sql(f"describe select * from '{target}'").fetchall()]
        assert names == header  # the odd spellings really reach the reader
        odd.unlink()
        odd = target
    ingest(conn, [reference], tmp_path)
    expected = rows(conn, SNAPSHOT)
    report = ingest(conn, [odd], tmp_path)
    assert outcomes(report) == {"reference.csv": "removed", odd.name: "loaded"}
    assert rows(conn, SNAPSHOT) == expected
    assert scalar(conn, "select extra_columns from billing_files") == ""


# ---------------------------------------------------------------------------------------------
# 5. re-delivery, removal, idempotence


def test_redelivery_supersedes_the_older_file_and_the_restated_cost_wins(conn, tmp_path):
    month_so_far = [line(d, 0, r, cost="5") for d in (1, 2) for r in ("r-1", "r-2")]
    restated = [line(d, 0, r, cost="7.5" if (d, r) == (2, "r-1") else "5") for d in (1, 2, 3) for r in ("r-1", "r-2")]
    # Names sort against delivery order: the mtime decides which delivery is newer, not the name.
    a = write_csv(tmp_path / "z_month_so_far.csv", month_so_far, mtime=1_000 * 10**9)
    b = write_csv(tmp_path / "a_redelivery.csv", restated, mtime=2_000 * 10**9)

    assert outcomes(ingest(conn, [a], tmp_path)) == {"z_month_so_far.csv": "loaded"}
    report = ingest(conn, [a, b], tmp_path)
    assert outcomes(report) == {"z_month_so_far.csv": "unchanged", "a_redelivery.csv": "loaded"}

    per_file = dict(rows(conn, "select source_file, count(*) filter (where is_duplicate) from focus_billing group by 1"))
    assert per_file == {str(a): 4, str(b): 0}
    assert dict(rows(conn, "select source_file, rows_superseded from billing_files")) == {str(a): 4, str(b): 0}

    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY_2025, "auto")
    expected_total = sum(float(r["BilledCost"]) for r in restated)
    for table in ("billing_rollup", "billing_rollup_hourly"):
        assert rows(conn, f"select sum(billed_cost), sum(line_items) from {table}") == [(expected_total, 6)]
    by_day = rows(conn, "select usage_date, resource_id, billed_cost, cost from billing_rollup order by 1, 2")
    assert by_day == [
        (date(2025, 5, 1), "r-1", 5.0, 5.0), (date(2025, 5, 1), "r-2", 5.0, 5.0),
        (date(2025, 5, 2), "r-1", 7.5, 7.5), (date(2025, 5, 2), "r-2", 5.0, 5.0),
        (date(2025, 5, 3), "r-1", 5.0, 5.0), (date(2025, 5, 3), "r-2", 5.0, 5.0),
    ]
    before_removal = rows(conn, "select * from billing_rollup order by all")

    # Removing file A from the list deletes its rows and its ledger entry; the rollup is unchanged.
    report = ingest(conn, [b], tmp_path)
    assert outcomes(report) == {"z_month_so_far.csv": "removed", "a_redelivery.csv": "unchanged"}
    assert rows(conn, "select distinct source_file from focus_billing") == [(str(b),)]
    assert rows(conn, "select source_file, rows_superseded from billing_files") == [(str(b), 0)]
    assert scalar(conn, "select count(*) from focus_billing where is_duplicate") == 0
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert rows(conn, "select * from billing_rollup order by all") == before_removal


def test_duplicate_rows_inside_one_file_are_not_deduplicated(conn, tmp_path):
    # Two identical line items in one delivery are two charges; only another delivery supersedes them.
    path = write_csv(tmp_path / "bill.csv", [line(1, 0, "r-1"), line(1, 0, "r-1")])
    ingest(conn, [path], tmp_path)
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert rows(conn, "select sum(billed_cost), sum(line_items) from billing_rollup") == [(2.0, 2)]


def test_an_edited_file_replaces_its_rows(conn, tmp_path):
    path = write_csv(tmp_path / "bill.csv", [line(1, h) for h in range(5)], mtime=1_000 * 10**9)
    ingest(conn, [path], tmp_path)
    write_csv(path, [line(1, 0, cost="9"), line(1, 1, BilledCost="oops")], mtime=2_000 * 10**9)
    assert outcomes(ingest(conn, [path], tmp_path)) == {"bill.csv": "loaded"}
    assert rows(conn, "select source_row, billed_cost from focus_billing") == [(1, 9.0)]
    assert [n for _, n in quarantine(conn)] == [2]
    assert rows(conn, "select rows_read, rows_accepted, rows_quarantined from billing_files") == [(2, 1, 1)]


def test_ingesting_unchanged_files_twice_changes_nothing(conn, tmp_path):
    first = write_csv(tmp_path / "first.csv", [line(1, h, "r-1") for h in range(3)] + [line(1, 5, "r-x", Tags="[1]")],
                      mtime=1_000 * 10**9)
    second = write_csv(tmp_path / "second.csv", [line(1, h, "r-1") for h in range(6)], mtime=2_000 * 10**9)
    files = discover_billing_files(tmp_path)
    assert files == [first, second]

    def snapshot():
        return {t: rows(conn, f"select * from {t} order by all")
                for t in ("focus_billing", "billing_quarantine", "billing_files", "billing_rollup")}

    ingest(conn, files, tmp_path)
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    before = snapshot()
    assert len(before["focus_billing"]) == 9 and len(before["billing_quarantine"]) == 1
    report = ingest(conn, files, tmp_path)
    assert outcomes(report) == {"first.csv": "unchanged", "second.csv": "unchanged"}
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert snapshot() == before
    assert scalar(conn, "select sum(billed_cost) from billing_rollup") == 6.0


def test_rows_without_a_currency_do_not_force_a_reload_of_other_files(conn, tmp_path):
    blank = write_csv(tmp_path / "blank_currency.csv", [line(1, h, BillingCurrency="") for h in range(3)])
    usd = write_csv(tmp_path / "usd.csv", [line(2, 0, "r-2")], mtime=1_000 * 10**9)
    ingest(conn, [blank, usd], tmp_path)
    assert scalar(conn, "select count(*) from billing_quarantine") == 3
    os.utime(usd, ns=(2_000 * 10**9, 2_000 * 10**9))
    report = ingest(conn, [blank, usd], tmp_path)
    assert report.reporting_currency == "USD"
    assert outcomes(report) == {"blank_currency.csv": "unchanged", "usd.csv": "loaded"}


def test_a_file_without_a_currency_column_takes_the_bills_currency_without_voting(conn, tmp_path):
    eur = write_csv(tmp_path / "eur.csv", [line(1, h, cost="2", BillingCurrency="EUR") for h in range(2)])
    no_column = write_csv(tmp_path / "no_currency_column.csv", [line(2, h, cost="3") for h in range(3)],
                          columns=tuple(c for c in COLUMNS if c != "BillingCurrency"))
    report = ingest(conn, [eur, no_column], tmp_path)
    assert report.reporting_currency == "EUR"
    assert [f.rows_quarantined for f in report.files] == [0, 0], quarantine(conn)
    assert rows(conn, "select billing_currency, exchange_rate, sum(billed_cost) from focus_billing group by all") \
        == [("EUR", 1.0, 13.0)]


def test_a_bigger_file_in_another_currency_does_not_flip_the_reporting_currency(conn, tmp_path):
    usd = write_csv(tmp_path / "usd.csv", [line(1, 0, "r-usd", cost="4")])
    gone = write_csv(tmp_path / "gone.csv", [line(1, 1, "r-gone")])
    assert ingest(conn, [usd, gone], tmp_path).reporting_currency == "USD"

    # Five EUR rows against one USD row: USD stays; without a rate the EUR rows are quarantined, named.
    eur = write_csv(tmp_path / "eur.csv", [line(2, h, f"r-eur-{h}", BillingCurrency="EUR") for h in range(5)])
    report = ingest(conn, [usd, eur], tmp_path)
    assert report.reporting_currency == "USD"
    assert outcomes(report) == {"gone.csv": "removed", "usd.csv": "unchanged", "eur.csv": "loaded"}
    assert sorted((f, rule) for f, (rule, _, _) in quarantine(conn).items()) \
        == [(("eur.csv", n), "currency_without_rate") for n in range(1, 6)]
    assert rows(conn, "select billing_currency, exchange_rate, sum(billed_cost) from focus_billing group by all") \
        == [("USD", 1.0, 4)]

    # With a rate the EUR rows convert, and the report says what was converted.
    report = ingest(conn, [usd, eur], tmp_path, IngestSettings(exchange_rates={"EUR": 1.25}))
    assert report.reporting_currency == "USD" and quarantine(conn) == {}
    assert [(c.currency, c.rate, c.rows, c.converted_billed_cost) for c in report.conversions] == [("EUR", 1.25, 5, 6.25)]


def test_without_usd_the_first_delivered_files_currency_is_the_reporting_currency(conn, tmp_path):
    eur = write_csv(tmp_path / "z_eur.csv", [line(1, 0, "r-eur", cost="2", BillingCurrency="EUR")], mtime=1_000 * 10**9)
    gbp = write_csv(tmp_path / "a_gbp.csv", [line(1, h, f"r-{h}", BillingCurrency="GBP") for h in range(1, 9)],
                    mtime=2_000 * 10**9)
    report = ingest(conn, [gbp, eur], tmp_path, IngestSettings(exchange_rates={"GBP": 1.5}))
    assert report.reporting_currency == "EUR"
    assert rows(conn, "select billing_currency, exchange_rate, count(*) from focus_billing group by all order by 1") \
        == [("EUR", 1.0, 1), ("GBP", 1.5, 8)]
