"""The seed article's method as our baseline (finops_devtools.evaluation.seed_method): its control chart,
its router and its deployment correlator, checked on hand-built series."""

import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from finops_devtools.evaluation.seed_method import (
    BASELINE_DAYS,
    OUTPUT_SCHEMA,
    SEED_ROUTE_TO_PATH,
    run_seed_method,
)

START = date(2026, 1, 1)
PATHS = {"deployment_correlation", "latent_code_change", "infrastructure_drift", "traffic_growth",
         "scheduled_job", "ri_expiry", "data_tier_threshold", "third_party_pricing", "security_incident",
         "unclassified"}
TEAM_REPOSITORIES = pl.DataFrame({
    "department": ["eng", "eng"], "team": ["checkout", "search"],
    "repository": ["acme/checkout", "acme/search"], "primary_repo": [True, True],
})


def flat(days: int = 35) -> list[float]:
    """About 100 a day with a small, known wobble (99, 101, 99, ...), so the baseline's std is not 0."""
    return [100.0 + (1 if i % 2 else -1) for i in range(days)]


def costs(series: dict[str, list[float]], team: str = "checkout") -> pl.DataFrame:
    rows = [{"resource_id": rid, "usage_date": START + timedelta(days=i), "cost": c, "service_name": "checkout-api",
             "department": "eng", "team": team} for rid, values in series.items() for i, c in enumerate(values)]
    return pl.DataFrame(rows)


def deployments(*events: tuple) -> pl.DataFrame:
    """events: (id, deployed_at, environment, repository)."""
    return pl.DataFrame([
        {"id": i, "deployed_at": at, "service_name": "checkout-api", "environment": env, "commit_sha": "a" * 40,
         "commit_message": "change", "branch": "main", "repository": repo, "ci_system": "github_actions",
         "triggered_by": "alice", "pipeline_url": f"https://ci.example/{i}"} for i, at, env, repo in events
    ])


NO_DEPLOYMENTS = deployments(("none", datetime(2000, 1, 1), "production", "acme/nothing"))


def spike_at(day: int, height: float = 200.0) -> list[float]:
    series = flat(day + 5)
    series[day] = height
    return series


def midnight(day: int) -> datetime:
    """The timestamp the seed's correlator gives an anomaly on day `day`: its date at 00:00 UTC."""
    return datetime.combine(START + timedelta(days=day), datetime.min.time())


def test_one_spike_on_a_flat_series_is_flagged_with_its_sigma():
    series = spike_at(35)
    out = run_seed_method(costs({"r1": series}), NO_DEPLOYMENTS, TEAM_REPOSITORIES)

    history = series[35 - BASELINE_DAYS:35]
    expected = (series[35] - statistics.fmean(history)) / statistics.stdev(history)
    assert out.schema == pl.Schema(OUTPUT_SCHEMA)
    assert out.height == 1
    row = out.row(0, named=True)
    assert row["anomaly_date"] == START + timedelta(days=35)
    assert row["sigma"] == pytest.approx(expected, rel=1e-9)
    assert row["days_elevated"] == 1
    assert row["path"] == "deployment_correlation"
    assert row["deployment_id"] is None and row["confidence"] is None


def test_a_constant_series_is_not_flagged():
    constant = [100.0] * 60
    # With a perfectly constant history the std is 0, so sigma is undefined (SQL NULLIF) and even a
    # jump is not flagged: a shortcoming kept on purpose.
    jump_after_constant = [100.0] * 40 + [500.0]
    out = run_seed_method(costs({"r1": constant, "r2": jump_after_constant}), NO_DEPLOYMENTS, TEAM_REPOSITORIES)
    assert out.is_empty()


def test_too_little_history_gives_no_baseline():
    out = run_seed_method(costs({"r1": [100.0, 101.0, 99.0, 100.0, 101.0, 500.0]}), NO_DEPLOYMENTS,
                          TEAM_REPOSITORIES)
    assert out.is_empty()


def test_production_deployment_of_a_registered_repo_30_minutes_before_is_blamed_high():
    at = midnight(35)
    events = deployments(
        ("dep-blamed", at - timedelta(minutes=30), "production", "acme/checkout"),
        ("dep-staging", at - timedelta(minutes=10), "staging", "acme/checkout"),       # not production
        ("dep-other-team", at - timedelta(minutes=5), "production", "acme/search"),    # not checkout's repo
        ("dep-after", at + timedelta(minutes=1), "production", "acme/checkout"),       # after the anomaly
        ("dep-too-early", at - timedelta(hours=6, minutes=1), "production", "acme/checkout"),
    )
    out = run_seed_method(costs({"r1": spike_at(35)}), events, TEAM_REPOSITORIES)
    row = out.row(0, named=True)
    assert (row["path"], row["deployment_id"], row["confidence"]) == ("deployment_correlation", "dep-blamed", "high")


def test_a_deployment_of_an_unregistered_team_is_not_blamed():
    at = midnight(35)
    events = deployments(("dep-growth", at - timedelta(minutes=30), "production", "acme/growth-site"))
    out = run_seed_method(costs({"r1": spike_at(35)}, team="growth"), events, TEAM_REPOSITORIES)
    row = out.row(0, named=True)
    assert row["path"] == "deployment_correlation"
    assert row["deployment_id"] is None and row["confidence"] is None


@pytest.mark.parametrize(("minutes_before", "confidence"), [
    (0, "high"), (60, "high"), (61, "medium"), (240, "medium"), (241, "low"), (360, "low"), (361, None),
])
def test_confidence_bands_and_the_six_hour_window(minutes_before, confidence):
    events = deployments(("dep-1", midnight(35) - timedelta(minutes=minutes_before), "production", "acme/checkout"))
    row = run_seed_method(costs({"r1": spike_at(35)}), events, TEAM_REPOSITORIES).row(0, named=True)
    assert row["confidence"] == confidence
    assert row["deployment_id"] == ("dep-1" if confidence else None)


def test_the_most_recent_deployment_in_the_window_is_the_top_match_and_aware_times_are_utc():
    new_york = timezone(timedelta(hours=-5))
    at = midnight(35).replace(tzinfo=timezone.utc)
    events = deployments(
        ("dep-older", (at - timedelta(minutes=200)).astimezone(new_york), "production", "acme/checkout"),
        ("dep-latest", (at - timedelta(minutes=20)).astimezone(new_york), "production", "acme/checkout"),
    )
    row = run_seed_method(costs({"r1": spike_at(35)}), events, TEAM_REPOSITORIES).row(0, named=True)
    assert (row["deployment_id"], row["confidence"]) == ("dep-latest", "high")


def test_router_branches():
    step = flat() + [200.0] * 4 + [100.0]                  # flagged on days 35, 36, 37 (then absorbed)
    ramp = flat() + [100.0 + 3 * k for k in range(1, 10)] + [220.0]
    weekly = flat(56)
    for day in (35, 42, 49):
        weekly[day] = 200.0
    # A production deployment just before every day: only anomalies routed to deployment correlation
    # get one attached.
    events = deployments(*[(f"dep-{d}", midnight(d) - timedelta(minutes=30), "production", "acme/checkout")
                           for d in range(30, 56)])
    out = run_seed_method(costs({"step": step, "ramp": ramp, "weekly": weekly}), events, TEAM_REPOSITORIES)
    got = {(r["resource_id"], (r["anomaly_date"] - START).days): (r["days_elevated"], r["path"], r["deployment_id"])
           for r in out.iter_rows(named=True)}

    # Sharp spike (sigma > 3, at most 2 days elevated) -> deployment correlation with the nearest deploy.
    assert got[("step", 35)] == (1, "deployment_correlation", "dep-35")
    assert got[("step", 36)] == (2, "deployment_correlation", "dep-36")
    # Elevated 3 to 6 days: no branch of the router takes it.
    assert got[("step", 37)] == (3, "unclassified", None)
    assert ("step", 38) not in got                       # the baseline has absorbed the step
    # Gradual rise: elevated 7 days or more.
    assert [got[("ramp", d)][:2] for d in (41, 42, 44)] == [(7, "traffic_growth"), (8, "traffic_growth"),
                                                            (10, "traffic_growth")]
    assert got[("ramp", 40)][:2] == (6, "unclassified")
    # Recurring weekly spike: flagged 7 and 14 days before too -> scheduled job, checked first.
    assert [got[("weekly", d)][1] for d in (35, 42, 49)] == ["deployment_correlation", "deployment_correlation",
                                                             "scheduled_job"]
    assert got[("weekly", 49)][2] is None
    # Causes of the seed's table that its router never returns stay out; latent code change is not
    # in its table at all.
    assert set(out["path"]) <= {"deployment_correlation", "traffic_growth", "scheduled_job", "unclassified"}


def test_route_mapping_covers_the_seed_table_with_our_vocabulary():
    assert set(SEED_ROUTE_TO_PATH.values()) <= PATHS
    assert SEED_ROUTE_TO_PATH[None] == "unclassified"
    assert len(SEED_ROUTE_TO_PATH) == 9 and "latent_code_change" not in SEED_ROUTE_TO_PATH.values()


def test_fast_enough_for_100_resources_over_120_days():
    rng = random.Random(3)
    series = {f"r{i:03d}": [rng.gauss(100, 5) for _ in range(120)] for i in range(100)}
    events = deployments(*[(f"dep-{k}", midnight(0) + timedelta(minutes=rng.randrange(120 * 24 * 60)),
                            "production", rng.choice(["acme/checkout", "acme/search"])) for k in range(300)])
    started = time.perf_counter()
    out = run_seed_method(costs(series), events, TEAM_REPOSITORIES)
    assert time.perf_counter() - started < 2.0
    assert out.height < 100 * 120 * 0.01                  # 3-sigma on Gaussian noise: a handful of flags
