"""Identical re-runs: detection and routing rebuilt on the same data leave every analyst table identical.

The session's generated run (a private copy) is charted, grouped, routed and alerted twice, on 4
threads, the second time with billing_rollup and the usage tables stored in another physical order
(what a re-ingest or a parallel scan produces): floating sums then add in another order, so any
derived value that depends on it differs in its last bits. Rows are compared exactly, no rounding.
"""

import duckdb

from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
    build_team_alerts,
)
from finops_assets.lib.routing.decisions import route_anomalies
from finops_assets_tests.conftest import copy_generated_run

TABLES = ("cost_baselines", "cost_anomalies", "cost_anomaly_onsets", "routing_decisions", "correlated_deployments",
          "unattributed_alerts", "team_alerts")
SHUFFLED = ("billing_rollup", "billing_rollup_hourly", "focus_billing")


def rebuild(conn: duckdb.DuckDBPyConnection, shuffle_seed: float | None) -> dict[str, list[tuple]]:
    if shuffle_seed is not None:
        conn.execute(f"select setseed({shuffle_seed})").fetchall()
        present = {r[0] for r in conn.sql("select table_name from duckdb_tables()").fetchall()}
        for table in SHUFFLED:
            if table in present:
                conn.execute(f"create or replace table {table} as select * from {table} order by random()")
    settings = DetectionSettings()
    build_baselines(conn, settings)
    build_anomalies(conn, settings)
    route_anomalies(conn, settings)
    build_team_alerts(conn)
    # Every row in a fixed order (all columns), so only the values can differ, never the scan order.
    return {t: conn.sql(f"select * from {t} order by all").fetchall() for t in TABLES}


def test_detection_and_routing_rebuilt_on_the_same_data_are_identical(_generated_run_once, tmp_path):
    _, warehouse = copy_generated_run(_generated_run_once, tmp_path / "run")
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute("set threads = 4")
        first = rebuild(conn, None)
        assert first["cost_anomalies"] and first["routing_decisions"]
        for seed in (0.1, 0.7, 0.3):
            again = rebuild(conn, seed)
            for table in TABLES:
                assert again[table] == first[table], table
    finally:
        conn.close()


def test_team_alert_lists_keep_their_order_when_scores_tie(_generated_run_once, tmp_path):
    # Two anomalies of one team and day with the same priority score: the order of top_resources and
    # anomaly_ids must not depend on the scan order.
    _, warehouse = copy_generated_run(_generated_run_once, tmp_path / "run")
    conn = duckdb.connect(str(warehouse))
    try:
        row = conn.sql("select * from cost_anomalies limit 1").fetchall()
        assert row
        lists = set()
        for order in ("asc", "desc"):
            conn.execute("create or replace table cost_anomalies as select * from cost_anomalies "
                         "union all select * replace ('zz' || anomaly_id as anomaly_id, 'zz-' || resource_id as resource_id) "
                         f"from cost_anomalies order by anomaly_id {order}")
            build_team_alerts(conn)
            lists.add(repr(conn.sql("select alert_date, team, top_resources, anomaly_ids from team_alerts "
                                    "order by all").fetchall()))
            conn.execute("delete from cost_anomalies where anomaly_id like 'zz%'")
        assert len(lists) == 1
    finally:
        conn.close()


def test_sums_over_many_rows_do_not_depend_on_the_order_rows_are_stored_in(tmp_path):
    # Hand-built: 4 resources of one team, each day split into 6 rollup rows with fractional
    # quantities, 40 quiet days then the same 10-day episode. Quantity per day, an episode's excess
    # and the team alert's excess are sums of doubles: stored in 4 orders, they must not move a bit.
    from datetime import date

    from finops_assets.lib.common.sql import load_sql

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute(load_sql("billing/create_billing_rollup"))
    conn.execute(load_sql("billing/create_billing_rollup_hourly"))
    conn.execute("create table incident_history (incident_id varchar, title varchar, started_at timestamp, "
                 "first_alert_at timestamp, resolved_at timestamp, affected_resources varchar, "
                 "affected_metrics varchar, root_cause varchar, resolution varchar)")
    conn.execute("create table routing_decisions (anomaly_id varchar, path varchar)")
    parts = (0.1, 0.2, 0.3, 1 / 3, 7.77, 1e-3)
    conn.execute(
        "insert into billing_rollup (usage_date, provider, billing_account_id, sub_account_id, department, team, "
        "service_name, resource_id, region_id, charge_category, billed_cost, effective_cost, list_cost, cost, "
        "consumed_quantity, line_items) "
        "select $start + d::integer, 'AWS', 'a', 's', 'retail', 'checkout', 'EC2', 'i-' || r, 'us-east-1', 'Usage', "
        "c, c, c, c, q * (1 + d / 7.0 + r / 3.0), 1 from ("
        "  select d, r, p.q, (case when d >= 40 then 90 else 20 end + (d * 37 + r * 11) % 13 / 7.0)::decimal(38, 12) "
        "         / 6 + p.q / 3 as c "
        "  from range(50) t(d), range(4) s(r), (select unnest($parts) as q) p)",
        {"start": date(2025, 1, 6), "parts": list(parts)})
    settings = DetectionSettings()
    results = []
    for seed in (0.1, 0.2, 0.5, 0.9):
        conn.execute(f"select setseed({seed})").fetchall()
        conn.execute("create or replace table billing_rollup as select * from billing_rollup order by random()")
        build_baselines(conn, settings)
        conn.execute("create or replace table cost_baselines as select * from cost_baselines order by random()")
        build_anomalies(conn, settings)
        build_team_alerts(conn)
        results.append({t: conn.sql(f"select * from {t} order by all").fetchall()
                        for t in ("cost_baselines", "cost_anomalies", "team_alerts")})
    episodes = conn.sql("select days_elevated from cost_anomalies").fetchall()
    conn.close()
    assert len(episodes) == 4 and all(days >= 5 for (days,) in episodes)
    assert len(results[0]["team_alerts"]) == 1 and results[0]["team_alerts"][0][3] == 4  # one alert, 4 anomalies
    for other in results[1:]:
        for table in results[0]:
            assert other[table] == results[0][table], table
