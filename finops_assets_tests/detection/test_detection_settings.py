"""The detection windows and the onset search are settings, by value: hand-placed costs for one
resource (no generator), charted by the real SQL, and the day or hour a changed setting moves."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import pytest

from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
)

START = date(2025, 1, 6)  # a Monday
COLUMNS = ("provider, billing_account_id, sub_account_id, department, team, service_name, resource_id, region_id, "
           "charge_category, billed_cost, effective_cost, list_cost, cost, consumed_quantity, line_items")
VALUES = "'AWS', 'a', 's', 'retail', 'checkout', 'EC2', 'i-1', 'us-east-1', 'Usage', $cost, $cost, $cost, $cost, 1, 1"
PLACED_VALUES = VALUES.replace("'i-1', 'us-east-1'", "$resource, $region")


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute(load_sql("billing/create_billing_rollup"))
    connection.execute(load_sql("billing/create_billing_rollup_hourly"))
    connection.execute("create table incident_history (incident_id varchar, title varchar, started_at timestamp, "
                       "first_alert_at timestamp, resolved_at timestamp, affected_resources varchar, "
                       "affected_metrics varchar, root_cause varchar, resolution varchar)")
    yield connection
    connection.close()


def daily_bill(conn, costs: list[float]) -> None:
    for n, cost in enumerate(costs):
        conn.execute(f"insert into billing_rollup (usage_date, {COLUMNS}) values ($day, {VALUES})",
                     {"day": START + timedelta(days=n), "cost": cost})


def baseline(conn, day: int, settings: DetectionSettings) -> tuple[float | None, str]:
    build_baselines(conn, settings)
    return conn.execute("select baseline_mean, method from cost_baselines where resource_id = 'i-1' "
                        "and usage_date = $d", {"d": START + timedelta(days=day)}).fetchall()[0]


# 28 days at $200, then $100: on day 42 (a Monday) the 20 weekdays before are half and half.
STEP_DOWN = [200.0] * 28 + [100.0] * 15
# $100 on weekdays, $40 at weekends.
WEEKLY = [40.0 if (START + timedelta(days=n)).isoweekday() >= 6 else 100.0 for n in range(14)]
BASELINE_CASES = [
    # (setting, value, bill, day, (baseline, method) with the defaults, with the setting)
    ("baseline_window_days", 14, STEP_DOWN, 42,
     (150.0, "same_daytype_median_mad_28d"), (100.0, "same_daytype_median_mad_14d")),
    # Saturday 12 has two weekend days before it: too few for a same-kind baseline by default.
    ("min_baseline_days", 2, WEEKLY, 12,
     (100.0, "all_days_median_mad_14d"), (40.0, "same_daytype_median_mad_28d")),
    # Saturday 5 has five days of history, all weekdays: enough for the all-days fallback by default.
    ("fallback_min_days", 6, WEEKLY, 5, (100.0, "all_days_median_mad_14d"), (None, "no_history")),
    ("fallback_window_days", 4, WEEKLY, 5, (100.0, "all_days_median_mad_14d"), (None, "no_history")),
]


@pytest.mark.parametrize("setting, value, costs, day, default, moved", BASELINE_CASES,
                         ids=[c[0] for c in BASELINE_CASES])
def test_a_baseline_window_setting_changes_the_baseline_of_a_known_day(conn, setting, value, costs, day, default,
                                                                         moved):
    daily_bill(conn, costs)
    assert baseline(conn, day, DetectionSettings()) == default
    assert baseline(conn, day, replace(DetectionSettings(), **{setting: value})) == moved


def test_the_baseline_window_is_also_how_far_back_a_region_counts_as_new(conn):
    # i-1 runs in us-east-1 throughout; i-old spent three days in eu-west-1 at the start; on day 35 a
    # new resource starts in eu-west-1. Unused for 28 days: new spend in a new place. Within 35: not.
    for n in range(36):
        rows = [("i-1", "us-east-1", 100.0)] + ([("i-old", "eu-west-1", 50.0)] if n < 3 else [])
        rows += [("i-new", "eu-west-1", 500.0)] if n == 35 else []
        for resource, region, cost in rows:
            conn.execute(f"insert into billing_rollup (usage_date, {COLUMNS}) values ($day, {PLACED_VALUES})",
                         {"day": START + timedelta(days=n), "resource": resource, "region": region, "cost": cost})
    query = "select method, is_flagged from cost_baselines where resource_id = 'i-new'"
    build_baselines(conn, DetectionSettings())
    assert conn.sql(query).fetchall() == [("new_spend_in_new_place", True)]
    build_baselines(conn, DetectionSettings(baseline_window_days=35))
    assert conn.sql(query).fetchall() == [("team_level", True)]


# Hourly: 29 quiet days (each hour $9, $10 or $11 in turn: hour-of-day median $10, MAD $1), then on
# Tuesday day 29 a two-hour blip at 05:00, $30 again at 09:00, a mild rise to $13 from 10:00 and the
# real rise to $30 from 15:00.
ANOMALY_DAY = 29


def hourly_cost(day: int, hour: int) -> float:
    if day == ANOMALY_DAY:
        if hour in (5, 6, 9) or hour >= 15:
            return 30.0
        if 10 <= hour <= 14:
            return 13.0
    return 9.0 + (day + hour) % 3


def onset(conn, settings: DetectionSettings) -> datetime:
    build_baselines(conn, settings)
    build_anomalies(conn, settings)
    rows = conn.sql("select anomaly_date, detected_at from cost_anomalies").fetchall()
    assert [r[0] for r in rows] == [START + timedelta(days=ANOMALY_DAY)]
    return rows[0][1]


@pytest.fixture
def hourly(conn):
    hours = [(day, hour) for day in range(ANOMALY_DAY + 1) for hour in range(24)]
    conn.execute(f"insert into billing_rollup_hourly (usage_hour, usage_date, hourly_grain, {COLUMNS}) "
                 f"select usage_hour, usage_hour::date, true, {VALUES.replace('$cost', 'cost')} "
                 "from (select unnest($hours) as usage_hour, unnest($costs) as cost)",
                 {"hours": [datetime.combine(START + timedelta(days=d), datetime.min.time()) + timedelta(hours=h)
                            for d, h in hours],
                  "costs": [hourly_cost(d, h) for d, h in hours]})
    conn.execute(f"insert into billing_rollup (usage_date, {COLUMNS}) select usage_date, provider, billing_account_id, "
                 "sub_account_id, department, team, service_name, resource_id, region_id, charge_category, "
                 "sum(billed_cost), sum(effective_cost), sum(list_cost), sum(cost), sum(consumed_quantity), "
                 "sum(line_items) from billing_rollup_hourly group by all")
    return conn


def at(hour: int) -> datetime:
    return datetime.combine(START + timedelta(days=ANOMALY_DAY), datetime.min.time()) + timedelta(hours=hour)


ONSET_CASES = [
    # (setting, value, onset hour with it); the defaults give 15:00, the first hour up for 2 of the next 3.
    ("onset_sigma", 1.5, at(9)),                   # $13 is 3 over the median: elevated at 1.5 sigmas, not at 3
    ("onset_confirm_hours", 1, at(5)),             # the blip is up for 1 of the 3 hours after 05:00
    ("onset_confirm_window_hours", 4, at(5)),      # ... and for 2 of the 4 after it (06:00 and 09:00)
    ("onset_history_days", 1, at(0)),              # a Tuesday's last day of history is a Sunday: no weekday
                                                   # hour medians, no onset hour, detected_at stays midnight
]


@pytest.mark.parametrize("setting, value, moved", ONSET_CASES, ids=[c[0] for c in ONSET_CASES])
def test_an_onset_setting_moves_the_onset_hour(hourly, setting, value, moved):
    assert onset(hourly, DetectionSettings()) == at(15)
    assert onset(hourly, replace(DetectionSettings(), **{setting: value})) == moved


@pytest.mark.parametrize("bad, name", [
    ({"baseline_window_days": 30}, "baseline_window_days"),
    ({"onset_confirm_hours": 4}, "onset_confirm_hours"),
    ({"fallback_window_days": 2.5}, "fallback_window_days"),
    ({"onset_history_days": 0}, "onset_history_days"),
    ({"onset_sigma": 0}, "onset_sigma"),
])
def test_a_window_that_cannot_be_a_sql_frame_is_refused_with_its_name(bad, name):
    with pytest.raises(ValueError, match=name):
        DetectionSettings(**bad)
