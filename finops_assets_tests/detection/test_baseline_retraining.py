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


def place(conn, resource: str, region: str, first_day: int, costs: list[float]) -> None:
    for n, cost in enumerate(costs):
        conn.execute(
            "insert into billing_rollup (usage_date, provider, billing_account_id, sub_account_id, department, team, "
            "service_name, resource_id, region_id, charge_category, billed_cost, effective_cost, list_cost, cost, "
            "consumed_quantity, line_items) values ($day, 'AWS', 'a', 's', 'retail', 'checkout', 'EC2', $resource, "
            "$region, 'Usage', $cost, $cost, $cost, $cost, 1, 1)",
            {"day": START + timedelta(days=first_day + n), "cost": cost, "resource": resource, "region": region})


def chart(conn, resource: str) -> dict[int, tuple]:
    build_baselines(conn, DetectionSettings())
    # One row per resource and day: the third pass replaces the rows of the resources it charts again.
    assert conn.execute("select count(*) - count(distinct (resource_id, usage_date)) from cost_baselines").fetchall() == [(0,)]
    rows = conn.execute("select usage_date, baseline_mean, method, is_flagged from cost_baselines "
                        "where resource_id = $r order by usage_date", {"r": resource}).fetchall()
    return {(day - START).days: (mean, method, flagged) for day, mean, method, flagged in rows}


def test_the_days_after_a_new_spend_episode_learn_from_the_unflagged_days_only(conn):
    # The sub-account has spent in us-east-1 for 4 weeks; a new resource in eu-west-1 (a new place)
    # spends $2,000 a day for 3 days (Mon..Wed of week 5: flagged by the new-spend rule), then $150.
    place(conn, "i-1", "us-east-1", 0, [100.0] * 50)
    place(conn, "i-new", "eu-west-1", 28, [2000.0] * 3 + [150.0] * 19)
    days = chart(conn, "i-new")
    assert [days[d] for d in (28, 29, 30)] == [(0.0, "new_spend_in_new_place", True)] * 3
    # Until it has 3 trainable days of the same kind the resource has no baseline (the flagged
    # $2,000 days do not count); then it is $150, never the $2,000 of the episode.
    assert [days[d] for d in range(31, 36)] == [(None, "no_history", False)] * 5
    assert days[36] == (150.0, "same_daytype_median_mad_28d", False)
    assert {days[d][0] for d in range(36, 50)} == {150.0}


def test_a_new_resource_that_stays_at_its_new_level_is_one_episode_then_normal(conn):
    # Same place, but the $2,000 a day lasts: one new-spend episode (3 days), then its own level.
    place(conn, "i-1", "us-east-1", 0, [100.0] * 50)
    place(conn, "i-new", "eu-west-1", 28, [2000.0] * 22)
    days = chart(conn, "i-new")
    assert [d for d, (_, _, flagged) in days.items() if flagged] == [28, 29, 30]
    assert days[36] == (2000.0, "same_daytype_median_mad_28d", False)


def test_a_level_that_lasts_three_weeks_becomes_the_baseline(conn):
    # The rule chosen (insert_cost_baselines_bucket.sql): a spike never becomes normal, a lasting level
    # does. A clean step from $100 to $300 is flagged for its first 21 days (one episode), then charted
    # against $300.
    bill(conn, [100.0] * 35 + [300.0] * 40)
    days = chart(conn, "i-1")
    assert [d for d, (_, _, flagged) in days.items() if flagged] == list(range(35, 56))
    assert {days[d][0] for d in range(35, 56)} <= {100.0, 200.0}  # 200: the median's midpoint, on the flip day
    # From day 21 on nothing is flagged: weekdays flip first (200 is the median's midpoint on the
    # flip day, 56), weekend days 5 days later (61); from day 62 on the baseline is $300.
    assert {(days[d][0], days[d][2]) for d in (56, 61)} == {(200.0, False)}
    assert {(days[d][0], days[d][2]) for d in range(62, 75)} == {(300.0, False)}
