import json
from datetime import datetime
from pathlib import Path

from finops_assets.lib.inputs.side_inputs import SIDE_INPUTS, parse_side_input


def _event(**overrides) -> str:
    event = {"id": "dep-1", "deployed_at": "2026-10-01T10:15:00+02:00", "service_name": "checkout",
             "environment": "production", "commit_sha": "ABCDEF1234567", "repository": "acme/checkout",
             "ci_system": "github_actions"}
    return json.dumps(event | overrides)


def test_deployments_are_normalized_to_utc_and_deduplicated_by_id(tmp_path: Path):
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / "a.jsonl").write_text(_event() + "\n\n" + _event(id="dep-2") + "\n")
    (tmp_path / "deployments" / "b.jsonl").write_text(_event() + "\n")  # the same webhook delivered twice
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"])
    assert [r["id"] for r in parsed.rows] == ["dep-1", "dep-2"]
    assert parsed.duplicates_dropped == 1
    assert parsed.rows[0]["deployed_at"] == datetime(2026, 10, 1, 8, 15)
    assert parsed.rows[0]["commit_sha"] == "abcdef1234567"
    assert parsed.rejected == []


def test_bad_deployment_lines_are_quarantined_with_line_number_rule_and_raw_text(tmp_path: Path):
    (tmp_path / "deployments").mkdir()
    lines = [_event(), "[1, 2]", "{oops", _event(id="dep-3", repository="no-slash"), _event(id="dep-4", commit_sha="zz")]
    (tmp_path / "deployments" / "e.jsonl").write_text("\n".join(lines) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"])
    assert [r["id"] for r in parsed.rows] == ["dep-1"]
    found = [(r.row_number, r.rule) for r in parsed.rejected]
    assert found == [(2, "invalid_json"), (3, "invalid_json"), (4, "invalid_field"), (5, "invalid_field")]
    assert "repository" in parsed.rejected[2].reason and "owner/name" in parsed.rejected[2].reason
    assert "commit_sha" in parsed.rejected[3].reason
    assert parsed.rejected[1].raw_record == "{oops"
    assert all(r.source_file.endswith("e.jsonl") for r in parsed.rejected)


def test_absent_input_is_empty_with_the_declared_columns(tmp_path: Path):
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["incident_history"])
    assert parsed.files == [] and parsed.rows == []
    assert parsed.frame.columns == list(SIDE_INPUTS["incident_history"].schema)


def test_csv_missing_a_required_column_is_one_file_level_entry(tmp_path: Path):
    (tmp_path / "traffic.csv").write_text("date,team,requests\n2026-10-01,checkout,5\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["traffic_metrics"])
    assert parsed.rows == []
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(0, "file_unreadable")]
    assert "department" in parsed.rejected[0].reason and "traffic.csv" in parsed.rejected[0].reason


def test_incident_resolved_before_it_started_is_rejected(tmp_path: Path):
    (tmp_path / "incidents.csv").write_text(
        "incident_id,title,started_at,first_alert_at,resolved_at,affected_resources,affected_metrics,root_cause,resolution\n"
        "INC-1,ok,2026-09-01T10:00:00Z,,2026-09-01T12:00:00Z,r1;r2,cost,,\n"
        "INC-2,bad,2026-09-02T10:00:00Z,,2026-09-01T12:00:00Z,r1,cost,,\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["incident_history"])
    assert [r["incident_id"] for r in parsed.rows] == ["INC-1"]
    assert parsed.rows[0]["first_alert_at"] is None
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(2, "invalid_field")]
    assert "resolved_at is before started_at" in parsed.rejected[0].reason
