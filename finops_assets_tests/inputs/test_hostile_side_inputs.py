"""Hostile values in the side inputs: each bad row is quarantined with its file, row and rule,
the file's other rows load, and nothing raises (no traceback, no failed run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from finops_assets.lib.inputs.side_inputs import SIDE_INPUTS, parse_side_input

TRAFFIC_HEADER = "date,department,team,requests"


def _traffic(tmp_path: Path, *values: str):
    rows = [TRAFFIC_HEADER, "2026-10-01,retail,checkout,1000"] + [f"2026-10-02,retail,t{i},{v}" for i, v in enumerate(values)]
    (tmp_path / "traffic.csv").write_text("\n".join(rows + ["2026-10-03,retail,checkout,1200"]) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["traffic_metrics"])
    parsed.frame  # builds the table's frame: must not raise either
    return parsed


@pytest.mark.parametrize(("value", "says"), [
    (str(2**63), "2^63"), (str(10**30), "2^63"), ("1.7e308", "integer"), ("nan", "integer"), ("inf", "integer"),
    ("-5", "negative"), ("12.5", "integer"),
])
def test_traffic_request_counts_out_of_range_are_quarantined(tmp_path, value, says):
    parsed = _traffic(tmp_path, value)
    assert [r["requests"] for r in parsed.rows] == [1000, 1200]
    [rejected] = parsed.rejected
    assert (rejected.row_number, rejected.rule) == (2, "invalid_field")
    assert rejected.reason.startswith("requests:") and says in rejected.reason, rejected.reason
    assert json.loads(rejected.raw_record)["requests"] == value


def test_the_largest_count_still_loads(tmp_path):
    parsed = _traffic(tmp_path, str(2**63 - 1))
    assert parsed.rejected == [] and parsed.frame["requests"].to_list() == [1000, 2**63 - 1, 1200]


INCIDENT_HEADER = "incident_id,title,started_at,first_alert_at,resolved_at,affected_resources,affected_metrics,root_cause,resolution"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_incident_times_without_a_utc_equivalent_are_quarantined(tmp_path, moment):
    (tmp_path / "incidents.csv").write_text("\n".join([
        INCIDENT_HEADER, "INC-1,ok,2026-09-01T10:00:00Z,,2026-09-01T12:00:00Z,r1,cost,,",
        f"INC-2,bad,{moment},,,r1,cost,,", f"INC-3,bad,2026-09-01T10:00:00Z,{moment},,r1,cost,,",
        "INC-4,ok,2026-09-03T10:00:00Z,,,r1,cost,,"]) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["incident_history"])
    parsed.frame
    assert [r["incident_id"] for r in parsed.rows] == ["INC-1", "INC-4"]
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(2, "invalid_field"), (3, "invalid_field")]
    assert parsed.rejected[0].reason.startswith("started_at:") and "UTC" in parsed.rejected[0].reason
    assert parsed.rejected[1].reason.startswith("first_alert_at:")


def _deployment(**overrides) -> str:
    event = {"id": "dep-1", "deployed_at": "2026-10-01T10:15:00Z", "service_name": "checkout",
             "environment": "production", "commit_sha": "abcdef1234567", "repository": "acme/checkout",
             "ci_system": "github_actions"}
    return json.dumps(event | overrides)


def test_hostile_deployment_lines_are_quarantined_and_the_rest_load(tmp_path):
    (tmp_path / "deployments").mkdir()
    lines = [
        _deployment(),
        _deployment(id="dep-2", deployed_at="0001-01-01T00:00:00+14:00"),   # no UTC equivalent
        _deployment(id="dep-3", deployed_at="1970-01-01T00:00:00Z"),         # outside the contract's bounds
        '{"a":' * 5000 + "1" + "}" * 5000,                                   # nested past the parser's limit
        '{"id": ' + "9" * 5000 + "}",                                        # an integer past Python's digit limit
        _deployment(id="dep-6"),
    ]
    (tmp_path / "deployments" / "e.jsonl").write_text("\n".join(lines) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"])
    parsed.frame
    assert [r["id"] for r in parsed.rows] == ["dep-1", "dep-6"]
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [
        (2, "invalid_field"), (3, "invalid_field"), (4, "invalid_json"), (5, "invalid_json")]
    assert all(r.source_file.endswith("e.jsonl") for r in parsed.rejected)
    assert "deployed_at" in parsed.rejected[0].reason and "deployed_at" in parsed.rejected[1].reason
    assert len(parsed.rejected[3].raw_record) > 5000  # the raw line is kept: nothing read is lost


def test_cli_run_with_hostile_side_inputs_prints_a_clear_line_each_and_loads_the_rest(data_dir, warehouse_path):
    (data_dir / "traffic.csv").write_text("\n".join([
        TRAFFIC_HEADER, "2024-09-01,retail,checkout,1000", f"2024-09-02,retail,checkout,{2**63}",
        "2024-09-03,retail,checkout,1.7e308", "2024-09-04,retail,checkout,nan", "2024-09-05,retail,checkout,1100"]) + "\n")
    (data_dir / "incidents.csv").write_text("\n".join([
        INCIDENT_HEADER, "INC-1,bad,0001-01-01T00:00:00+14:00,,,r1,cost,,",
        "INC-2,ok,2024-09-10T10:00:00Z,,2024-09-10T12:00:00Z,r1,cost,,"]) + "\n")
    (data_dir / "exchange_rates.csv").write_text("currency,rate\nEUR,nan\nGBP,1.7e308\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE")}
    result = subprocess.run([sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
                             "--warehouse", str(warehouse_path)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "asset check" not in result.stderr
    lines = result.stderr.splitlines()
    for row, rule in ((2, "invalid_field"), (3, "invalid_field"), (4, "invalid_field")):
        assert [line for line in lines if f"traffic.csv row {row}: {rule}: requests:" in line], result.stderr
    assert [line for line in lines if "incidents.csv row 1: invalid_field: started_at:" in line], result.stderr
    assert [line for line in lines if "exchange_rates.csv: line 2" in line and "EUR" in line], result.stderr
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.sql("select requests from traffic_metrics order by date").fetchall() == [(1000,), (1100,)]
        assert conn.sql("select incident_id from incident_history").fetchall() == [("INC-2",)]
        quarantined = conn.sql("select input_name, split_part(source_file, '/', -1), row_number, rule "
                               "from input_quarantine where input_name in ('traffic_metrics', 'incident_history') "
                               "order by all").fetchall()
    assert quarantined == [("incident_history", "incidents.csv", 1, "invalid_field"),
                           ("traffic_metrics", "traffic.csv", 2, "invalid_field"),
                           ("traffic_metrics", "traffic.csv", 3, "invalid_field"),
                           ("traffic_metrics", "traffic.csv", 4, "invalid_field")]


def test_one_unreadable_csv_row_never_loses_the_rows_after_it(tmp_path):
    rows = [TRAFFIC_HEADER.encode(), b"2026-10-01,retail,checkout,1000",
            b"2026-10-02,retail,checkout," + b"9" * 200_000,       # past csv's field size limit
            b"2026-10-03,retail,caf\xe9,5",                         # Latin-1, not UTF-8
            b"2026-10-04,retail,checkout,1200"]
    (tmp_path / "traffic.csv").write_bytes(b"\n".join(rows) + b"\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["traffic_metrics"])
    parsed.rejected_frame, parsed.frame  # both tables can be built
    assert [r["requests"] for r in parsed.rows] == [1000, 1200]
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(2, "unreadable_row"), (3, "invalid_encoding")]
    assert "field larger than field limit" in parsed.rejected[0].reason
    assert json.loads(parsed.rejected[1].raw_record)["team"] == "caf\\xe9"  # the bytes are kept, escaped


def test_a_jsonl_line_that_is_not_utf8_is_one_quarantined_line(tmp_path):
    (tmp_path / "deployments").mkdir()
    lines = [_deployment().encode(), _deployment(id="dep-2").encode().replace(b"checkout", b"caf\xe9"),
             _deployment(id="dep-3").encode()]
    (tmp_path / "deployments" / "e.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"])
    parsed.rejected_frame
    assert [r["id"] for r in parsed.rows] == ["dep-1", "dep-3"]
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(2, "invalid_encoding")]
    assert "caf\\xe9" in parsed.rejected[0].raw_record
