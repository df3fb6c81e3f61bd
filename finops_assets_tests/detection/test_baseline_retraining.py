"""Seed 003's retraining rule, by value: known incident windows and flagged days never train a baseline.

Hand-placed daily costs for one resource (no generator), charted by the real SQL; each test pins the
baseline a day gets, and fails if the exclusion it is about is dropped.
"""

from datetime import date, timedelta

import duckdb
import pytest

from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.detection.pipeline import DetectionSettings, build_baselines

START = date(2025, 1, 6)  # a Monday


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute(load_sql("billing/create_billing_rollup"))
    connection.execute("create table incident_history (incident_id varchar, title varchar, started_at timestamp, "
                       "first_alert_at timestamp, resolved_at timestamp, affected_resources varchar, "
                       "affected_metrics varchar, root_cause varchar, resolution varchar)")
    yield connection
    connection.close()


def bill(conn, costs: list[float]) -> None:
    for n, cost in enumerate(costs):
        conn.execute(
            "insert into billing_rollup (usage_date, provider, billing_account_id, sub_account_id, department, team, "
            "service_name, resource_id, region_id, charge_category, billed_cost, effective_cost, list_cost, cost, "
            "consumed_quantity, line_items) values ($day, 'AWS', 'a', 's', 'retail', 'checkout', 'EC2', 'i-1', "
            "'us-east-1', 'Usage', $cost, $cost, $cost, $cost, 1, 1)", {"day": START + timedelta(days=n), "cost": cost})


def baseline(conn, day: int) -> tuple[float, bool]:
    build_baselines(conn, DetectionSettings())
    return conn.execute("select baseline_mean, is_flagged from cost_baselines where resource_id = 'i-1' "
                        "and usage_date = $d", {"d": START + timedelta(days=day)}).fetchall()[0]


def test_an_outage_in_a_known_incident_window_does_not_lower_the_baseline(conn):
    # 35 days at $100, then 16 days of outage at $0 (a known incident), then back to $100.
    costs = [100.0] * 35 + [0.0] * 16 + [100.0] * 3
    bill(conn, costs)
    conn.execute("insert into incident_history (incident_id, started_at, resolved_at, affected_resources) values "
                 "('inc-1', $start, $end, 'i-1')",
                 {"start": START + timedelta(days=35), "end": START + timedelta(days=50)})
    # Without the incident window left out, 12 of the 20 weekdays before would be $0: baseline 0 and
    # the recovery itself an anomaly.
    assert baseline(conn, 52) == (100.0, False)


def test_days_the_first_pass_flagged_never_become_normal(conn):
    # 35 days at $100, then a step to $300 that stays: 12 weekdays later most of the 20 weekdays
    # before are elevated, but they were flagged, so the baseline stays $100 and the day stays flagged.
    costs = [100.0] * 35 + [300.0] * 17
    bill(conn, costs)
    mean, flagged = baseline(conn, 51)
    assert (START + timedelta(days=51)).isoweekday() <= 5
    assert (mean, flagged) == (100.0, True)
