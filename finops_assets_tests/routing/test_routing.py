"""Routing decides from evidence before deployments; correlation confidence follows the seeds."""

from datetime import date, datetime

import pytest

from finops_assets.lib.routing.rules import (
    deployment_confidence,
    rank_candidates,
    route,
)

ONSET = datetime(2026, 7, 1, 0, 0)


def anomaly(**overrides) -> dict:
    base = {"resource_id": "r-1", "anomaly_date": date(2026, 7, 1), "detected_at": ONSET, "team": "checkout",
            "department": "engineering", "sub_account_id": "111", "region_id": "us-east-1", "service_name": "EC2",
            "sigma": 12.0, "excess_cost": 300.0, "days_elevated": 5, "cost_pct_change": 0.6, "actual_cost": 800.0,
            "resource_first_day": date(2026, 5, 1), "account_has_history": True, "region_new_to_account": False,
            "service_new_to_team": False, "committed_share_before": 0.0, "committed_share_after": 0.0,
            "sku_before": "m6i.xlarge", "sku_after": "m6i.xlarge", "sku_price_before": "p1", "sku_price_after": "p1",
            "resource_type_before": "ASG", "resource_type_after": "ASG", "unit_price_before": 0.19,
            "unit_price_after": 0.19, "quantity_per_hour_before": 10.0, "quantity_per_hour_after": 16.0,
            "service_category": "Compute", "third_party_line": False, "requests_before": 1000.0,
            "requests_after": 1010.0, "traffic_cost_before": 500.0, "traffic_cost_after": 800.0,
            "recurrence_pattern": None, "hours_elevated_24h": 20, "back_to_normal_within_8h": False,
            "onset_step_ratio": 1.6, "onset_level_ratio": 1.6}
    return {**base, **overrides}


def deployment(minutes: float, message: str = "Tune log levels", deployment_id: str = "dep-1") -> dict:
    return {"deployment_id": deployment_id, "minutes_before_anomaly": minutes, "repository": "acme/checkout",
            "commit_sha": "a" * 40, "commit_message": message, "same_service": True}


def test_confidence_decays_as_seed_003_prints_and_bands_follow_seed_000():
    assert deployment_confidence(10)[1] == pytest.approx(0.95, abs=0.01)
    assert deployment_confidence(180)[1] == pytest.approx(0.30, abs=0.01)
    assert [deployment_confidence(m)[0] for m in (-20, 60, 61, 240, 241)] == ["high", "high", "medium", "medium", "low"]


@pytest.mark.parametrize("evidence, path", [
    ({"committed_share_before": 1.0, "committed_share_after": 0.0}, "ri_expiry"),
    ({"sku_after": "m6i.2xlarge", "unit_price_after": 0.38, "quantity_per_hour_after": 10.0}, "infrastructure_drift"),
    ({"requests_after": 2000.0}, "traffic_growth"),
    ({"recurrence_pattern": "weekly"}, "scheduled_job"),
    ({"third_party_line": True, "unit_price_after": 0.3, "quantity_per_hour_after": 10.0}, "third_party_pricing"),
    ({"service_category": "Storage", "sku_price_after": "p2", "quantity_per_hour_after": 10.2}, "data_tier_threshold"),
    ({"resource_first_day": date(2026, 7, 1), "region_new_to_account": True}, "security_incident"),
])
def test_a_release_right_before_never_beats_stronger_evidence(evidence, path):
    decision = route(anomaly(**evidence), [deployment(20, "Add report query by customer")], has_repository_map=True)
    assert decision.path == path and decision.deployment_id is None


def test_sharp_step_with_a_release_in_the_window_blames_the_cost_relevant_one():
    candidates = [deployment(5, "Fix typo", "dep-typo"), deployment(40, "Remove product cache decorator", "dep-cache")]
    decision = route(anomaly(), candidates, has_repository_map=True)
    assert (decision.path, decision.deployment_id, decision.confidence) == ("deployment_correlation", "dep-cache", "high")


def test_sharp_step_without_a_deployment_is_unclassified_not_blamed():
    decision = route(anomaly(), [deployment(7 * 60)], has_repository_map=True)
    assert decision.path == "unclassified" and decision.deployment_id is None


def test_team_without_repository_map_is_told_what_to_register():
    decision = route(anomaly(), [], has_repository_map=False)
    assert decision.deployment_id is None and "team_repositories.csv" in decision.rationale


def test_gradual_rise_looks_back_seven_days_for_a_latent_change():
    gradual = anomaly(onset_step_ratio=1.05, onset_level_ratio=1.1)
    decision = route(gradual, [deployment(3 * 1440, "Add report query filtering orders"), deployment(9 * 1440)],
                     has_repository_map=True)
    assert decision.path == "latent_code_change" and decision.deployment_id == "dep-1"
    assert route(gradual, [deployment(9 * 1440)], has_repository_map=True).path == "unclassified"


def test_same_service_outranks_the_teams_other_repositories():
    other = {**deployment(5, "Raise HPA limit", "dep-other"), "same_service": False}
    assert rank_candidates([other, deployment(50)])[0]["deployment_id"] == "dep-1"


def test_money_in_a_rationale_is_in_the_reporting_currency():
    new_spend = anomaly(resource_first_day=date(2026, 7, 1), region_new_to_account=True, actual_cost=1234.5)
    decision = route(new_spend, [], has_repository_map=True, currency="EUR")
    assert decision.path == "security_incident"
    assert "a new resource spent EUR 1,234.50 in a day" in decision.rationale
    assert "$" not in decision.rationale
    assert "spent JPY 1,235 in a day" in route(new_spend, [], has_repository_map=True, currency="JPY").rationale
