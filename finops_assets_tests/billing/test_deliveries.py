"""Part files, re-deliveries and restatements: every dollar of the newest delivery, no dollar twice.

Expected totals are summed with Python's csv and decimal modules from the files as written, never
read back from the tables under test.
"""

import csv
import gzip
import os
from decimal import Decimal
from pathlib import Path

import pytest

from finops_assets.lib.billing.ingest import delivery_of, discover_billing_files
from finops_assets.lib.billing.rollup import rebuild_rollup_window
from finops_assets_tests.billing.test_focus_ingest import (
    MAY_2025,
    ingest,
    line,
    rows,
    write_csv,
)


def billed_in(*paths: Path) -> Decimal:
    total = Decimal(0)
    for path in paths:
        with (gzip.open(path, "rt", newline="") if path.name.endswith(".gz") else path.open(newline="")) as handle:
            total += sum(Decimal(r["BilledCost"]) for r in csv.DictReader(handle))
    return total


def rollup_billed(conn) -> Decimal:
    rebuild_rollup_window(conn, "billing_rollup", *MAY_2025, "auto")
    rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY_2025, "auto")
    daily, hourly = rows(conn, "select (select sum(billed_cost) from billing_rollup), "
                               "(select sum(billed_cost) from billing_rollup_hourly)")[0]
    assert daily == hourly
    return daily


@pytest.mark.parametrize("name, same_delivery_as", [
    ("part-00002.csv", "part-00001.csv"),                 # AWS Data Exports / Azure part files
    ("part_0_0002.csv", "part_0_0001.csv"),               # Azure's part_<n>_<m>
    ("cur-report-2.csv.gz", "cur-report-1.csv.gz"),       # legacy CUR assembly parts
    ("export-00002.snappy.parquet", "export-00001.snappy.parquet"),
    # Spark / Databricks writers: the part number comes first, a job uuid and a chunk after it.
    ("part-00001-1b2c3d4e-9f0a-4b1c-8d2e-3f4a5b6c7d8e-c000.csv", "part-00000-1b2c3d4e-9f0a-4b1c-8d2e-3f4a5b6c7d8e-c000.csv"),
    ("part-00002-of-00003.csv", "part-00001-of-00003.csv"),
    ("bill-2026-11-15-2.csv", "bill-2026-11-15-1.csv"),   # a dated delivery in parts
    ("myexport_20261101_20261130_00002.csv", "myexport_20261101_20261130_00001.csv"),
])
def test_part_files_of_one_folder_are_one_delivery(tmp_path, name, same_delivery_as):
    assert delivery_of(tmp_path / name) == delivery_of(tmp_path / same_delivery_as)


@pytest.mark.parametrize("name, other", [
    ("2025-06.csv", "2025-05.csv"),                       # months are separate deliveries
    ("bill-2025-05-15.csv", "bill-2025-05-31.csv"),       # month-to-date snapshots: the newer supersedes
    ("20250515.csv", "20250531.csv"),
    ("a_redelivery.csv", "z_month_so_far.csv"),
    ("bill-2026-11-30-1.csv", "bill-2026-11-15-1.csv"),   # dated snapshots, each in parts
    ("focus-2026-12-1.csv", "focus-2026-11-1.csv"),
    ("myexport_20261201_20261231_00001.csv", "myexport_20261101_20261130_00001.csv"),
    ("2026-11.csv.gz", "2026-11.csv"),                      # a gzipped copy is not a second part
])
def test_dated_or_differently_named_files_are_separate_deliveries(tmp_path, name, other):
    assert delivery_of(tmp_path / name) != delivery_of(tmp_path / other)


def test_same_names_in_another_folder_are_another_delivery(tmp_path):
    assert delivery_of(tmp_path / "run-1" / "part-00001.csv") != delivery_of(tmp_path / "run-2" / "part-00001.csv")


def test_parts_whose_rows_differ_only_in_columns_the_old_rule_ignored_lose_nothing(conn, tmp_path):
    # Today's bug: part 2 repeats part 1's line items but for ChargeFrequency or ConsumedQuantity;
    # the older part's rows vanished as "duplicates" ($24 of $84), exit 0, nothing quarantined.
    folder = tmp_path / "billing" / "BILLING_PERIOD=2025-05"
    folder.mkdir(parents=True)
    first = [line(1, h, "i-1", cost="3") for h in range(8)]                                   # $24
    second = ([line(1, h, "i-1", cost="3", ChargeFrequency="Recurring") for h in range(4)]
              + [line(1, h, "i-1", cost="3", ConsumedQuantity="2") for h in range(4, 8)]
              + [line(2, h, "i-2", cost="9") for h in range(4)])                              # $60
    p1 = write_csv(folder / "part-00001.csv", first, mtime=1_000 * 10**9)
    p2 = write_csv(folder / "part-00002.csv", second, mtime=1_001 * 10**9)
    report = ingest(conn, discover_billing_files(tmp_path / "billing"), tmp_path)
    assert [f.status for f in report.files] == ["loaded", "loaded"]
    assert billed_in(p1, p2) == Decimal(84)
    assert rows(conn, "select count(*) filter (where is_duplicate), sum(billed_cost) filter (where not is_duplicate) "
                      "from focus_billing") == [(0, Decimal(84))]
    assert rollup_billed(conn) == billed_in(p1, p2)


def test_identical_rows_in_two_parts_of_one_delivery_are_two_charges(conn, tmp_path):
    p1 = write_csv(tmp_path / "part-00001.csv", [line(1, 0, "i-1", cost="5")], mtime=1_000 * 10**9)
    p2 = write_csv(tmp_path / "part-00002.csv", [line(1, 0, "i-1", cost="5")], mtime=2_000 * 10**9)
    ingest(conn, [p1, p2], tmp_path)
    assert rollup_billed(conn) == billed_in(p1, p2) == Decimal(10)


def test_a_restated_redelivery_of_a_split_month_replaces_the_old_parts(conn, tmp_path):
    """Two deliveries of May, each in two parts (as Azure writes a run folder per delivery): the newer
    restates some costs, repeats one identical line item twice, and drops nothing. Only it counts."""
    old_dir, new_dir = tmp_path / "run-1", tmp_path / "run-2"
    old_dir.mkdir(), new_dir.mkdir()
    old_rows = [line(d, h, f"i-{h}", cost="2") for d in (1, 2) for h in range(6)]
    restated = [line(d, h, f"i-{h}", cost="2.5" if (d, h) == (2, 3) else "2") for d in (1, 2) for h in range(6)]
    twice = line(3, 0, "i-twice", cost="1.25")
    old = [write_csv(old_dir / "part-00001.csv", old_rows[:7], mtime=1_000 * 10**9),
           write_csv(old_dir / "part-00002.csv", old_rows[7:], mtime=1_001 * 10**9)]
    new = [write_csv(new_dir / "part-00001.csv", restated[:5] + [twice], mtime=2_000 * 10**9),
           write_csv(new_dir / "part-00002.csv", restated[5:] + [twice], mtime=2_001 * 10**9)]
    ingest(conn, old + new, tmp_path)
    assert rollup_billed(conn) == billed_in(*new) == Decimal("27.00")
    assert dict(rows(conn, "select delivery, count(*) filter (where is_duplicate) from focus_billing "
                           "join billing_files using (source_file) group by 1")) \
        == {delivery_of(old[0]): 12, delivery_of(new[0]): 0}
    assert rows(conn, "select sum(rows_superseded) from billing_files where source_file like '%run-1%'") == [(12,)]


def test_a_partial_redelivery_supersedes_only_the_rows_it_repeats(conn, tmp_path):
    # Matching is one to one: two identical old rows, one repeated in the new delivery, one survives.
    old = write_csv(tmp_path / "may.csv", [line(1, 0, "i-1", cost="4"), line(1, 0, "i-1", cost="4"),
                                           line(1, 1, "i-1", cost="4")], mtime=1_000 * 10**9)
    new = write_csv(tmp_path / "may-restated.csv", [line(1, 0, "i-1", cost="4.5")], mtime=2_000 * 10**9)
    ingest(conn, [old, new], tmp_path)
    assert rows(conn, "select source_row, is_duplicate from focus_billing where source_file = $f order by 1",
                {"f": str(old)}) == [(1, True), (2, False), (3, False)]
    assert rollup_billed(conn) == Decimal("12.5")


def test_a_row_is_not_superseded_by_one_that_differs_outside_the_money(conn, tmp_path):
    # A restatement that changes a quantity, a tag or a description is a different line item.
    old = write_csv(tmp_path / "may.csv", [line(1, 0, "i-1", cost="4")], mtime=1_000 * 10**9)
    variants = [{"ConsumedQuantity": "2"}, {"ChargeDescription": "other"}, {"Tags": '{"team": "x"}'},
                {"ChargeFrequency": "Recurring"}, {"ListCost": "9", "EffectiveCost": "3", "BilledCost": "7"}]
    news = [write_csv(tmp_path / f"may-v{n}.csv", [line(1, 0, "i-1", cost="4", **v)], mtime=(2_000 + n) * 10**9)
            for n, v in enumerate(variants)]
    ingest(conn, [old, *news], tmp_path)
    # Only the last variant (the money alone differs) supersedes the old row; the others differ from
    # it and from each other outside the money, so each stands for itself.
    duplicates = dict(rows(conn, "select source_file, is_duplicate from focus_billing"))
    assert duplicates == {str(old): True, **{str(p): False for p in news}}


def test_a_hash_collision_never_supersedes_a_different_row(conn, tmp_path):
    # row_key only narrows the candidates; the identity itself decides. Force every key to collide.
    from finops_assets.lib.billing.ingest import _mark_duplicates

    old = write_csv(tmp_path / "may.csv", [line(1, 0, "i-1", cost="4"), line(1, 1, "i-1", cost="4")],
                    mtime=1_000 * 10**9)
    new = write_csv(tmp_path / "may-restated.csv", [line(1, 0, "i-1", cost="4", ConsumedQuantity="3"),
                                                    line(1, 1, "i-1", cost="6")], mtime=2_000 * 10**9)
    ingest(conn, [old, new], tmp_path)
    conn.execute("update focus_billing set row_key = 42")
    _mark_duplicates(conn, ("USD", "usd_billed"))
    assert rows(conn, "select source_row from focus_billing where is_duplicate") == [(2,)]
    assert rollup_billed(conn) == Decimal(4 + 4 + 6)


@pytest.mark.parametrize("older, newer", [
    (["bill-2025-05-15-1.csv"], ["bill-2025-05-31-1.csv"]),
    (["2025-05.csv"], ["2025-05.csv.gz"]),
])
def test_a_newer_snapshot_in_parts_or_gzipped_replaces_the_older_one(conn, tmp_path, older, newer):
    old = [write_csv(tmp_path / n, [line(10, 0, "i-1", cost="50")], mtime=1_000 * 10**9) for n in older]
    new = [write_csv(tmp_path / n, [line(10, 0, "i-1", cost="60"), line(20, 0, "i-1", cost="3")],
                     mtime=2_000 * 10**9) for n in newer]
    ingest(conn, old + new, tmp_path)
    assert rollup_billed(conn) == billed_in(*new) == Decimal(63)


def test_spark_part_files_are_one_delivery_and_nothing_cancels(conn, tmp_path):
    uuid = "1b2c3d4e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
    p0 = write_csv(tmp_path / f"part-00000-{uuid}-c000.csv", [line(1, 0, "r1", cost="100"), line(1, 0, "r2", cost="5")],
                   mtime=1_000 * 10**9)
    p1 = write_csv(tmp_path / f"part-00001-{uuid}-c000.csv", [line(1, 0, "r1", cost="100"), line(1, 0, "r3", cost="7")],
                   mtime=1_001 * 10**9)
    ingest(conn, [p0, p1], tmp_path)
    assert rollup_billed(conn) == billed_in(p0, p1) == Decimal(212)


@pytest.mark.parametrize("old_tags, new_tags", [
    ('{"team":"a","env":"prod"}', '{"env":"prod","team":"a"}'),   # key order
    ('{"team": "a"}', '{"team":"a"}'),                              # spacing
    ("", "{}"),                                                     # no tags, two spellings
    ("{}", "NULL"),
])
def test_a_restatement_with_the_same_tags_written_differently_replaces_the_old_row(conn, tmp_path, old_tags, new_tags):
    old = write_csv(tmp_path / "2025-05.csv", [line(10, 0, "i-1", cost="50", Tags=old_tags)], mtime=1_000 * 10**9)
    new = write_csv(tmp_path / "2025-05-restated.csv", [line(10, 0, "i-1", cost="60", Tags=new_tags)],
                    mtime=2_000 * 10**9)
    ingest(conn, [old, new], tmp_path)
    assert rollup_billed(conn) == billed_in(new) == Decimal(60)


def test_a_restatement_delivered_as_parquet_with_map_tags_replaces_the_csv(conn, tmp_path):
    import duckdb as scratch_db

    old = write_csv(tmp_path / "2025-05.csv", [line(10, 0, "i-1", cost="50", Tags='{"team": "a", "env": "prod"}')],
                    mtime=1_000 * 10**9)
    staged = write_csv(tmp_path / "staged.csv", [line(10, 0, "i-1", cost="60")])
    new = tmp_path / "2025-05-restated.parquet"
    with scratch_db.connect() as scratch:
        scratch.execute(f"copy (select * replace (map {{'env': 'prod', 'team': 'a'}} as Tags) from read_csv('{staged}', "
                        f"all_varchar = true)) to '{new}' (format parquet)")
    staged.unlink()
    os.utime(new, ns=(2_000 * 10**9, 2_000 * 10**9))
    ingest(conn, [old, new], tmp_path)
    assert rollup_billed(conn) == Decimal(60)
