"""The cost_anomalies checks on tables built by hand: each bad table fails its check, a good one passes."""

import duckdb
import pytest

from finops_assets.lib.detection.checks import (
    anomalies_below_limit,
    duplicate_anomaly_ids,
)


@pytest.fixture
def conn():
    conn = duckdb.connect()
    conn.execute("create table cost_anomalies (anomaly_id varchar, resource_id varchar, anomaly_date date, "
                 "sigma double, baseline_method varchar)")
    conn.execute("insert into cost_anomalies values ('a1', 'r1', '2026-07-01', 5.0, 'same_daytype_median_mad_28d'), "
                 "('a2', 'r2', '2026-07-02', 3.01, 'team_level'), "
                 "('a3', 'r3', '2026-07-03', 0.4, 'new_spend_in_new_place')")
    yield conn
    conn.close()


def test_unique_ids_pass_and_a_repeated_id_fails(conn):
    assert duplicate_anomaly_ids(conn).is_empty()
    conn.execute("insert into cost_anomalies values ('a1', 'r9', '2026-07-09', 9.0, 'team_level')")
    assert duplicate_anomaly_ids(conn).rows() == [("a1", 2)]


def test_every_sigma_above_the_configured_limit_passes(conn):
    assert anomalies_below_limit(conn, 3.0).is_empty()


@pytest.mark.parametrize("sigma", [3.0, 2.5, None])
def test_a_sigma_at_or_below_the_limit_or_missing_fails(conn, sigma):
    conn.execute("update cost_anomalies set sigma = $s where anomaly_id = 'a2'", {"s": sigma})
    assert anomalies_below_limit(conn, 3.0)["anomaly_id"].to_list() == ["a2"]


def test_the_limit_is_the_configured_one(conn):
    assert anomalies_below_limit(conn, 4.0)["anomaly_id"].to_list() == ["a2"]  # 3.01 is under a 4-sigma limit


def test_new_spend_in_a_new_place_is_not_held_to_the_limit_but_other_methods_are(conn):
    conn.execute("update cost_anomalies set baseline_method = 'team_level' where anomaly_id = 'a3'")
    assert anomalies_below_limit(conn, 3.0)["anomaly_id"].to_list() == ["a3"]
