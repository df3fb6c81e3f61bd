"""The routing_decisions and correlated_deployments checks on tables built by hand: each bad table
fails its check, a good one passes."""

import duckdb
import pytest

from finops_assets.lib.routing.checks import (
    anomalies_without_one_rank_one,
    decisions_not_one_per_anomaly,
    decisions_with_bad_path,
)


@pytest.fixture
def conn():
    conn = duckdb.connect()
    conn.execute("create table cost_anomalies as select * from (values ('a1'), ('a2'), ('a3')) t(anomaly_id)")
    conn.execute("create table routing_decisions (anomaly_id varchar, path varchar, deployment_id varchar)")
    conn.execute("insert into routing_decisions values ('a1', 'deployment_correlation', 'd1'), "
                 "('a2', 'latent_code_change', 'd2'), ('a3', 'traffic_growth', null)")
    conn.execute("create table correlated_deployments (anomaly_id varchar, deployment_id varchar, rank bigint)")
    conn.execute("insert into correlated_deployments values ('a1', 'd1', 1), ('a1', 'd5', 2), ('a2', 'd2', 1), "
                 "('a3', null, null)")  # a3: no_repository_map, no candidate
    yield conn
    conn.close()


def test_good_tables_pass_every_check(conn):
    assert decisions_not_one_per_anomaly(conn).is_empty()
    assert decisions_with_bad_path(conn).is_empty()
    assert anomalies_without_one_rank_one(conn).is_empty()


def test_an_anomaly_decided_twice_fails(conn):
    conn.execute("insert into routing_decisions values ('a3', 'unclassified', null)")
    assert decisions_not_one_per_anomaly(conn).rows() == [("a3", 2)]


def test_an_anomaly_without_a_decision_fails(conn):
    conn.execute("delete from routing_decisions where anomaly_id = 'a2'")
    assert decisions_not_one_per_anomaly(conn).rows() == [("a2", 0)]


def test_a_decision_for_an_unknown_anomaly_fails(conn):
    conn.execute("insert into routing_decisions values ('ghost', 'unclassified', null)")
    assert decisions_not_one_per_anomaly(conn)["anomaly_id"].to_list() == ["ghost"]


@pytest.mark.parametrize("path", ["cosmic_rays", "Traffic_Growth", None])
def test_an_unknown_path_fails(conn, path):
    conn.execute("update routing_decisions set path = $p where anomaly_id = 'a3'", {"p": path})
    assert decisions_with_bad_path(conn).select("anomaly_id", "problem").rows() == [("a3", "unknown path")]


@pytest.mark.parametrize("path", ["traffic_growth", "unclassified", "ri_expiry"])
def test_a_deployment_on_a_path_that_is_not_a_code_path_fails(conn, path):
    conn.execute("update routing_decisions set path = $p, deployment_id = 'd9' where anomaly_id = 'a3'", {"p": path})
    assert decisions_with_bad_path(conn).select("anomaly_id", "problem").rows() == [
        ("a3", "deployment on a path that is not a code path")]


def test_two_rank_ones_fail(conn):
    conn.execute("update correlated_deployments set rank = 1 where deployment_id = 'd5'")
    assert anomalies_without_one_rank_one(conn).rows() == [("a1", 2, 2)]


def test_candidates_without_a_rank_one_fail(conn):
    conn.execute("update correlated_deployments set rank = 3 where deployment_id = 'd2'")
    assert anomalies_without_one_rank_one(conn).rows() == [("a2", 0, 1)]
