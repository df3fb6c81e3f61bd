"""One bad row is one bad row; one bad file is one line naming it; links out of the data folder are not read."""

import gzip
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from finops_assets.lib.billing.ingest import discover_billing_files
from finops_assets.lib.billing.rollup import rebuild_rollup_window
from finops_assets_tests.billing.test_focus_ingest import (
    COLUMNS,
    MAY_2025,
    ingest,
    line,
    outcomes,
    quarantine,
    rows,
    scalar,
    write_csv,
)


def csv_text(rows_: list[dict[str, str]]) -> list[str]:
    """The data lines of write_csv's output, one per row (no field here holds a comma or quote
    except Tags, which csv quotes)."""
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in rows_:
        writer.writerow([r.get(c, "") for c in COLUMNS])
    return out.getvalue().splitlines()


def test_ragged_and_non_utf8_records_are_quarantined_with_their_record_number(conn, tmp_path):
    good = [line(1 + (n // 24) % 28, n % 24, f"r-{n}", cost=f"{n}.01") for n in range(3000)]
    data = csv_text(good)
    data[2] = data[2] + ",extra-field"                        # record 3: one field too many
    data[10] = data[10].split(",", 3)[0]                      # record 11: too few fields
    lines = [",".join(COLUMNS).encode()] + [d.encode() for d in data]
    lines[21] = lines[21].replace(b"compute", b"comp\xffute")  # record 21: not UTF-8
    path = tmp_path / "bill.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")

    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.rows_read, outcome.rows_accepted, outcome.rows_quarantined) == \
        ("loaded", 3000, 2997, 3)
    got = {n: (rule, reason, raw) for (_, n), (rule, reason, raw) in quarantine(conn).items()}
    assert {n: rule for n, (rule, _, _) in got.items()} == \
        {3: "field_count_mismatch", 11: "field_count_mismatch", 21: "encoding_invalid"}
    assert "extra-field" in got[3][2]["csv_record"] and "Expected Number of Columns" in got[3][1]
    # Every other record keeps its own record number: record n bills n-1 + 0.01.
    numbers = rows(conn, "select source_row, billed_cost from focus_billing order by source_row")
    assert all(cost == Decimal(f"{n - 1}.01") for n, cost in numbers)
    assert [n for n, _ in numbers] == [n for n in range(1, 3001) if n not in (3, 11, 21)]
    expected = sum(Decimal(f"{n - 1}.01") for n in range(1, 3001) if n not in (3, 11, 21))
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    assert scalar(conn, "select sum(billed_cost) from billing_rollup") == expected


def test_a_semicolon_export_is_read_by_its_header_delimiter(conn, tmp_path):
    path = tmp_path / "bill.csv"
    header = ";".join(c for c in COLUMNS if c != "Tags")
    body = [";".join(line(1, h, "r-1", cost="2")[c] for c in COLUMNS if c != "Tags") for h in range(3)]
    path.write_text("\n".join([header, *body, body[0] + ";ragged"]) + "\n")
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.rows_accepted, outcome.rows_quarantined) == (3, 1)


def test_a_charge_dated_in_the_future_is_quarantined_and_read_again_next_run(conn, tmp_path):
    bill = [line(1, 0, "r-1", cost="1"), line(1, 1, "r-1", cost="2", ChargePeriodStart="2027-03-01T00:00:00Z",
                                              ChargePeriodEnd="2027-03-01T01:00:00Z"),
            line(1, 2, "r-1", cost="3", ChargePeriodStart="1999-12-31T23:00:00Z", ChargePeriodEnd="")]
    path = write_csv(tmp_path / "bill.csv", bill)
    report = ingest(conn, [path], tmp_path)
    got = {n: (rule, reason) for (_, n), (rule, reason, _) in quarantine(conn).items()}
    assert {n: rule for n, (rule, _) in got.items()} == {2: "charge_period_start_implausible",
                                                         3: "charge_period_start_implausible"}
    assert "2027-03-01" in got[2][1] and "outside 2000-01-01" in got[2][1]
    assert [f.rows_accepted for f in report.files] == [1]
    # The future row may become a real charge: the file is never skipped as unchanged.
    assert outcomes(ingest(conn, [path], tmp_path)) == {"bill.csv": "loaded"}


def test_unparseable_billing_periods_are_quarantined_not_stored_as_null(conn, tmp_path):
    bill = [line(1, 0, "r-1", BillingPeriodStart="2025-05-01T00:00:00Z", BillingPeriodEnd="2025-06-01T00:00:00Z"),
            line(1, 1, "r-1", BillingPeriodStart="May 2025", BillingPeriodEnd="2025-06-01T00:00:00Z"),
            line(1, 2, "r-1", BillingPeriodStart="2025-05-01T00:00:00Z", BillingPeriodEnd="2025-13-01")]
    path = write_csv(tmp_path / "bill.csv", bill,
                     columns=COLUMNS + ("BillingPeriodStart", "BillingPeriodEnd"))
    ingest(conn, [path], tmp_path)
    assert {n: rule for (_, n), (rule, _, _) in quarantine(conn).items()} == \
        {2: "billing_period_start_unparseable", 3: "billing_period_end_unparseable"}
    assert rows(conn, "select billing_period_start::varchar, billing_period_end::varchar from focus_billing") == \
        [("2025-05-01 00:00:00", "2025-06-01 00:00:00")]


def test_each_unreadable_file_fails_alone_with_one_line_naming_it(conn, tmp_path):
    good = write_csv(tmp_path / "good.csv", [line(1, h, "r-good", cost="2") for h in range(3)])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    empty_gz = tmp_path / "empty.csv.gz"
    empty_gz.write_bytes(b"")
    header_only = write_csv(tmp_path / "header_only.csv", [])
    full = gzip.compress(("\n".join([",".join(COLUMNS)] + csv_text([line(1, h % 24, f"r-{h}") for h in range(3000)]))
                          + "\n").encode())
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(full[: len(full) // 2])
    corrupt = tmp_path / "corrupt.parquet"
    with duckdb.connect() as scratch:
        scratch.execute(f"copy (select 1 as BilledCost) to '{corrupt}' (format parquet)")
    corrupt.write_bytes(corrupt.read_bytes()[:-12])
    not_parquet = tmp_path / "text.parquet"
    not_parquet.write_text("BilledCost\n1\n")

    report = ingest(conn, [empty, empty_gz, header_only, good, truncated, corrupt, not_parquet], tmp_path)
    assert outcomes(report) == {"empty.csv": "failed", "empty.csv.gz": "failed", "header_only.csv": "failed",
                                "good.csv": "loaded", "truncated.csv.gz": "failed", "corrupt.parquet": "failed",
                                "text.parquet": "failed"}
    errors = {Path(f.source_file).name: f.error for f in report.failed}
    assert all("\n" not in e and len(e) < 400 for e in errors.values()), errors
    assert "empty (0 bytes)" in errors["empty.csv"] and "empty (0 bytes)" in errors["empty.csv.gz"]
    assert "no data rows" in errors["header_only.csv"]
    assert "cannot be read" in errors["truncated.csv.gz"]
    assert errors["corrupt.parquet"].startswith("is not a readable Parquet file")
    assert errors["text.parquet"].startswith("is not a readable Parquet file")
    assert scalar(conn, "select sum(billed_cost) from focus_billing") == Decimal(6)


def test_a_symlink_out_of_the_data_folder_is_not_followed(tmp_path):
    data = tmp_path / "data"
    (data / "billing").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "hostname.csv"
    secret.write_text("not a bill\n")
    inside = write_csv(data / "shared.csv", [line(1, 0)])
    os.symlink(secret, data / "billing" / "etc.csv")
    os.symlink(outside, data / "billing" / "linked_folder.csv")
    os.symlink(inside, data / "billing" / "inside.csv")
    real = write_csv(data / "billing" / "real.csv", [line(1, 1)])
    refused: list[str] = []
    assert discover_billing_files(data / "billing", refused=refused) == [data / "billing" / "inside.csv", real]
    assert len(refused) == 2 and all("outside the data folder" in r for r in refused)
    assert any(r.startswith(str(data / "billing" / "etc.csv")) for r in refused)


@pytest.mark.parametrize("target", ["/etc/hostname", "/etc"])
def test_an_absolute_symlink_to_the_system_is_not_read(tmp_path, target):
    (tmp_path / "billing").mkdir()
    os.symlink(target, tmp_path / "billing" / "x.csv")
    refused: list[str] = []
    assert discover_billing_files(tmp_path / "billing", refused=refused) == []
    assert len(refused) == 1 and "outside the data folder" in refused[0]


def test_an_open_quote_is_one_quarantined_record_when_the_next_quote_closes_it(conn, tmp_path):
    # Tags are quoted JSON, so a stray quote is closed on the same line: only that record is bad.
    lines = [",".join(COLUMNS)] + csv_text([line(1 + (n // 24) % 28, n % 24, f"r-{n}", cost="1") for n in range(3000)])
    lines[3] = lines[3].replace("compute for", '"compute for', 1)  # record 3
    path = tmp_path / "bill.csv"
    path.write_text("\n".join(lines) + "\n")
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.rows_accepted, outcome.rows_quarantined) == ("loaded", 2999, 1)
    assert [(n, rule) for (_, n), (rule, _, _) in quarantine(conn).items()] == [(3, "quote_unclosed")]


def test_an_open_quote_that_swallows_the_rest_fails_the_file_in_one_line(conn, tmp_path):
    # With no other quote in the file, every later record would be read into record 3: refuse.
    columns = tuple(c for c in COLUMNS if c != "Tags")
    rows_ = [line(1 + (n // 24) % 28, n % 24, f"r-{n}", cost="1") for n in range(3000)]
    rows_[2]["ChargeDescription"] = '"compute'
    path = tmp_path / "bill.csv"
    path.write_text("\n".join([",".join(columns)] + [",".join(r[c] for c in columns) for r in rows_]) + "\n")
    [outcome] = ingest(conn, [path], tmp_path).files
    assert outcome.status == "failed"
    assert outcome.error.startswith("record 3 opens a quote that is never closed") and "\n" not in outcome.error


def test_a_line_over_the_size_limit_near_the_top_is_one_quarantined_record(conn, tmp_path):
    rows_ = [line(1, h, f"r-{h}", cost="2") for h in range(5)]
    rows_[1]["ChargeDescription"] = "x" * 2_200_000
    path = write_csv(tmp_path / "bill.csv", rows_)
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.rows_accepted, outcome.rows_quarantined) == ("loaded", 4, 1)
    assert [(n, rule) for (_, n), (rule, _, _) in quarantine(conn).items()] == [(2, "line_too_long")]
    assert scalar(conn, "select sum(billed_cost) from focus_billing") == Decimal(8)


def test_a_utf16_export_is_named_as_such(conn, tmp_path):
    path = tmp_path / "bill.csv"
    path.write_bytes("\n".join([",".join(COLUMNS)] + csv_text([line(1, 0)])).encode("utf-16"))
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.error) == ("failed", "is not UTF-8 text (it looks like UTF-16): export it as UTF-8")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_same_focus_column_twice_fails_the_file_instead_of_picking_one(conn, tmp_path, suffix):
    header = ("billedcost",) + COLUMNS
    path = write_csv(tmp_path / "bill.csv", [{**line(1, 0, cost="25.00"), "billedcost": "0"}], columns=header)
    if suffix == ".parquet":  # pyarrow keeps both spellings as they are (DuckDB would rename one)
        import pyarrow as pa
        import pyarrow.parquet as pq

        row = {**line(1, 0, cost="25.00"), "billedcost": "0"}
        pq.write_table(pa.table({c: [row[c]] for c in header}), tmp_path / "bill.parquet")
        path.unlink()
        path = tmp_path / "bill.parquet"
    [outcome] = ingest(conn, [path], tmp_path).files
    assert outcome.status == "failed" and "the same FOCUS column in another spelling" in outcome.error, outcome.error


def test_a_byte_order_mark_and_crlf_line_ends_load(conn, tmp_path):
    text = "\r\n".join([",".join(COLUMNS)] + csv_text([line(1, h, cost="1.5") for h in range(2)])) + "\r\n"
    path = tmp_path / "bill.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    [outcome] = ingest(conn, [path], tmp_path).files
    assert (outcome.status, outcome.rows_accepted) == ("loaded", 2)
    assert scalar(conn, "select sum(billed_cost) from focus_billing") == Decimal(3)


def test_files_in_other_formats_and_linked_folders_are_named_never_skipped_silently(tmp_path):
    data = tmp_path / "data"
    (data / "billing" / "2026").mkdir(parents=True)
    (data / "archive").mkdir()
    (tmp_path / "outside").mkdir()
    csv_ = write_csv(data / "billing" / "2026-10.csv", [line(1, 0)])
    gz = write_csv(data / "billing" / "2026" / "2026-09.CSV.GZ", [line(1, 0)])
    for name in ("2026-11.csv.zip", "2026-12.csv.bz2", "bill.xlsx"):
        (data / "billing" / name).write_bytes(b"PK\x03\x04")
    (data / "billing" / "cur-Manifest.json").write_text("{}")   # a provider's manifest: not a bill
    archived = write_csv(data / "archive" / "2026-08.csv", [line(1, 0)])
    os.symlink(data / "archive", data / "billing" / "archive")   # a linked folder inside the data folder
    os.symlink(tmp_path / "outside", data / "billing" / "elsewhere")
    os.symlink(data / "billing", data / "billing" / "2026" / "loop")  # a link back up the tree
    refused: list[str] = []
    found = discover_billing_files(data / "billing", refused=refused)
    assert found == sorted([csv_, gz, data / "billing" / "archive" / archived.name])
    assert sorted(Path(r.split(": ")[0]).name for r in refused) == ["2026-11.csv.zip", "2026-12.csv.bz2", "bill.xlsx",
                                                                   "elsewhere"]
    assert all(r.endswith("not read") for r in refused)
