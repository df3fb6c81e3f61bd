"""Classify first, correlate second, pinned: one anomaly carrying every kind of evidence at once, and
which rule wins as the winning evidence is taken away one piece at a time; then each threshold
setting, shown to move a decision."""

from dataclasses import fields, replace
from datetime import date, datetime, timedelta

import pytest

from finops_assets.lib.routing.rules import RULES, RoutingContext, decide
from finops_assets.lib.routing.settings import RoutingSettings

DAY = date(2026, 7, 1)
ONSET = datetime(2026, 7, 1, 9, 0)


def quiet(**overrides) -> dict:
    """An anomaly row on which no rule fires: the fallback decides."""
    base = {"resource_id": "r-1", "anomaly_date": DAY, "detected_at": ONSET, "team": "checkout",
            "department": "engineering", "sub_account_id": "111", "region_id": "us-east-1", "service_name": "EC2",
            "sigma": 9.0, "excess_cost": 300.0, "days_elevated": 1, "cost_pct_change": 0.6, "actual_cost": 800.0,
            "resource_first_day": date(2026, 3, 1), "account_has_history": True, "region_new_to_account": False,
            "service_new_to_team": False, "committed_share_before": 0.0, "committed_share_after": 0.0,
            "sku_before": "m6i.xlarge", "sku_after": "m6i.xlarge", "sku_price_before": "p1", "sku_price_after": "p1",
            "resource_type_before": "ASG", "resource_type_after": "ASG", "unit_price_before": 0.2,
            "unit_price_after": 0.2, "quantity_per_hour_before": 10.0, "quantity_per_hour_after": 16.0,
            "quantity_per_hour_week_before": None, "service_category": "Compute", "third_party_line": False,
            "publisher_name": None, "provider_name": "AWS", "requests_before": 1000.0, "requests_after": 1000.0,
            "traffic_cost_before": 500.0, "traffic_cost_after": 800.0,
            "recurrence_pattern": None, "hours_elevated_24h": 20, "back_to_normal_within_8h": False,
            "onset_step_ratio": 1.0, "onset_level_ratio": 1.0}
    return {**base, **overrides}


def deployment(minutes: float, deployment_id: str, message: str = "Remove product cache decorator") -> dict:
    return {"deployment_id": deployment_id, "minutes_before_anomaly": minutes, "repository": "acme/checkout",
            "commit_sha": "b" * 40, "commit_message": message, "same_service": True}


RELEASE_JUST_BEFORE = deployment(20, "dep-now")
RELEASE_DAYS_BEFORE = deployment(3 * 1440, "dep-latent", "Add report query by customer")

# Everything at once. Each step of CHAIN takes away the evidence of the rule that just won.
EVERYTHING = quiet(
    resource_first_day=DAY - timedelta(days=1), region_new_to_account=True,               # new spend in a new place
    committed_share_before=0.9, committed_share_after=0.0,                                # a commitment ended
    third_party_line=True, publisher_name="Datadog", unit_price_after=0.3,               # the publisher's price rose ...
    quantity_per_hour_after=10.5,                                                         # ... on a steady quantity
    service_category="Storage", sku_price_after="p2",                                     # a new storage price tier
    sku_after="m6i.2xlarge",                                                              # a SKU change
    requests_after=2000.0,                                                                # traffic doubled
    recurrence_pattern="weekly",                                                          # it recurs every week
    back_to_normal_within_8h=True, hours_elevated_24h=5,                                  # a batch-shaped burst
    onset_step_ratio=1.8, onset_level_ratio=1.8,                                          # a sharp step
    days_elevated=4,                                                                      # that lasted days
)
CHAIN = [  # (rule that wins, path, confidence, the evidence to take away next)
    ("new_spend_in_new_place", "security_incident", "high", {"region_new_to_account": False}),
    ("commitment_coverage_drop", "ri_expiry", "high", {"committed_share_before": 0.0}),
    ("third_party_price_rise", "third_party_pricing", "high", {"third_party_line": False}),
    ("price_tier_change", "data_tier_threshold", "high", {"service_category": "Compute"}),
    ("sku_or_type_change", "infrastructure_drift", "medium", {"sku_after": "m6i.xlarge"}),
    ("traffic_growth", "traffic_growth", "high", {"requests_after": 1000.0}),
    ("recurring_spike", "scheduled_job", "high", {"recurrence_pattern": None}),
    ("batch_burst", "scheduled_job", "medium", {"back_to_normal_within_8h": False}),
    ("sharp_step_unmapped_team", "deployment_correlation", "low", {"has_repository_map": True}),
    ("sharp_step_after_deployment", "deployment_correlation", "high", {"onset_step_ratio": 1.0,
                                                                        "onset_level_ratio": 1.0}),
    ("gradual_rise_after_deployment", "latent_code_change", "medium", {"candidates": [RELEASE_JUST_BEFORE]}),
    ("unclassified", "unclassified", "low", None),
]


def walk(rules=RULES) -> list[tuple[str, str, str]]:
    """Route EVERYTHING, take the winner's evidence away, route again, to the fallback."""
    row = dict(EVERYTHING)
    context = RoutingContext([RELEASE_JUST_BEFORE, RELEASE_DAYS_BEFORE], has_repository_map=False)
    seen = []
    for _, _, _, take_away in CHAIN:
        decision = decide(row, context, rules=rules)
        seen.append((decision.rule, decision.path, decision.confidence))
        for key, value in (take_away or {}).items():
            if key in ("has_repository_map", "candidates"):
                context = replace(context, **{key: value})
            else:
                row[key] = value
    return seen


def test_with_every_kind_of_evidence_at_once_the_rule_order_decides():
    assert walk() == [(rule, path, confidence) for rule, path, confidence, _ in CHAIN]


def test_the_chain_names_every_rule_in_the_order_of_RULES():
    assert [rule for rule, *_ in CHAIN] == [r.name for r in RULES] + ["unclassified"]


# The two deployment rules need opposite evidence (a sharp step / no sharp step): their order is free.
EXCLUSIVE = {("sharp_step_after_deployment", "gradual_rise_after_deployment")}


@pytest.mark.parametrize("i", range(len(RULES) - 1), ids=lambda i: f"{RULES[i].name}<->{RULES[i + 1].name}")
def test_swapping_two_neighbouring_rules_changes_a_decision(i):
    swapped = list(RULES)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    if (RULES[i].name, RULES[i + 1].name) in EXCLUSIVE:
        assert walk(tuple(swapped)) == walk()
    else:
        assert walk(tuple(swapped)) != walk()


def test_the_evidence_shows_what_was_weighed_before_the_winner():
    decision = decide(quiet(requests_after=2000.0), RoutingContext([], has_repository_map=True))
    assert decision.rule == "traffic_growth"
    assert decision.evidence["traffic_ratio"] == 2.0 and decision.evidence["quantity_ratio"] == 1.6
    assert "onset_step_ratio" not in decision.evidence  # the deployment rules were never tried


# Each threshold: (setting, new value, row overrides, context, decision with the default, with the new value).
MAPPED = {"has_repository_map": True, "candidates": []}
THIRD_PARTY = {"third_party_line": True, "publisher_name": "Datadog", "unit_price_after": 0.23,
               "quantity_per_hour_after": 10.0}
SHARP = {"onset_step_ratio": 1.8, "onset_level_ratio": 1.8}
GRADUAL = {"days_elevated": 3}
THRESHOLDS = [
    ("new_resource_max_age_days", 1, {"resource_first_day": DAY - timedelta(days=2), "region_new_to_account": True},
     MAPPED, ("security_incident", "high"), ("unclassified", "low")),
    ("committed_share_before_min", 0.7, {"committed_share_before": 0.6}, MAPPED,
     ("ri_expiry", "high"), ("unclassified", "low")),
    ("committed_share_after_max", 0.2, {"committed_share_before": 0.9, "committed_share_after": 0.15}, MAPPED,
     ("unclassified", "low"), ("ri_expiry", "high")),
    ("price_rise_ratio_min", 1.2, THIRD_PARTY, MAPPED, ("third_party_pricing", "high"), ("unclassified", "low")),
    ("smooth_quantity_ratio_min", 0.9, {**THIRD_PARTY, "quantity_per_hour_after": 8.5}, MAPPED,
     ("third_party_pricing", "high"), ("unclassified", "low")),
    ("smooth_quantity_ratio_max", 1.1, {**THIRD_PARTY, "quantity_per_hour_after": 12.0}, MAPPED,
     ("third_party_pricing", "high"), ("unclassified", "low")),
    ("traffic_ratio_min", 1.4, {"requests_after": 1300.0, "traffic_cost_after": 650.0}, MAPPED, ("traffic_growth", "medium"), ("unclassified", "low")),
    ("traffic_ratio_high", 1.7, {"requests_after": 1600.0}, MAPPED, ("traffic_growth", "high"),
     ("traffic_growth", "medium")),
    ("traffic_unit_cost_tolerance", 0.1, {"requests_after": 1300.0, "traffic_cost_after": 750.0}, MAPPED,
     ("traffic_growth", "medium"), ("unclassified", "low")),  # cost per request 1.15x
    ("batch_max_hours", 5, {"back_to_normal_within_8h": True, "hours_elevated_24h": 6}, MAPPED,
     ("scheduled_job", "medium"), ("unclassified", "low")),
    ("sharp_step_ratio_min", 1.5, {"onset_step_ratio": 1.45}, {**MAPPED, "candidates": [RELEASE_JUST_BEFORE]},
     ("deployment_correlation", "high"), ("unclassified", "low")),
    ("sharp_level_ratio_min", 1.7, {"onset_level_ratio": 1.6}, {**MAPPED, "candidates": [RELEASE_JUST_BEFORE]},
     ("deployment_correlation", "high"), ("unclassified", "low")),
    ("onset_hour_grace_minutes", 20.0, SHARP, {**MAPPED, "candidates": [deployment(-30, "dep-in-hour")]},
     ("deployment_correlation", "high"), ("unclassified", "low")),
    ("latent_min_minutes", 120.0, GRADUAL, {**MAPPED, "candidates": [deployment(90, "dep-90")]},
     ("latent_code_change", "medium"), ("unclassified", "low")),
    ("rising_min_days", 4, GRADUAL, {**MAPPED, "candidates": [RELEASE_DAYS_BEFORE]},
     ("latent_code_change", "medium"), ("unclassified", "low")),
    ("high_confidence_minutes", 40.0, SHARP, {**MAPPED, "candidates": [deployment(50, "dep-50")]},
     ("deployment_correlation", "high"), ("deployment_correlation", "medium")),
    ("medium_confidence_minutes", 180.0, SHARP, {**MAPPED, "candidates": [deployment(200, "dep-200")]},
     ("deployment_correlation", "medium"), ("deployment_correlation", "low")),
]


@pytest.mark.parametrize("setting, value, row, context, default, moved", THRESHOLDS, ids=[t[0] for t in THRESHOLDS])
def test_each_threshold_setting_moves_the_decision(setting, value, row, context, default, moved):
    context = RoutingContext(**context)
    with_default = decide(quiet(**row), context)
    with_setting = decide(quiet(**row), context, replace(RoutingSettings(), **{setting: value}))
    assert (with_default.path, with_default.confidence) == default
    assert (with_setting.path, with_setting.confidence) == moved


def test_every_threshold_setting_is_shown_to_move_a_decision():
    assert [t[0] for t in THRESHOLDS] == [f.name for f in fields(RoutingSettings)]


@pytest.mark.parametrize("bad", [{"smooth_quantity_ratio_min": 1.1}, {"traffic_ratio_high": 1.2}, {"traffic_unit_cost_tolerance": -0.1},
                                 {"high_confidence_minutes": 300.0}])
def test_inconsistent_settings_are_refused_with_their_names(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        RoutingSettings(**bad)
