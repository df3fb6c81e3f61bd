"""Decide each anomaly's most likely cause from evidence, before any deployment is looked at.

Classify first, correlate second (DESIGN.md section 1). The router is `RULES`, an ordered tuple of
named rules, each one function `(evidence, context, settings) -> Decision | None`, tried in order;
the first that returns a decision wins and `unclassified` is the fallback. The evidence the bill
carries for a cause that is not code (new spend in a new place, a commitment ending, a publisher's
price, a new price tier, a SKU change, traffic, a recurring schedule) comes first, deployments
last, so a harmless release that lands near such an anomaly is never blamed. Without conclusive
evidence the answer is `unclassified`: safe, where a wrong deployment costs an engineer hours.
The thresholds are the fields of `RoutingSettings` (lib/routing/settings.py).
"""

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from finops_assets.lib.common.money import format_money
from finops_assets.lib.routing.checklists import CHECKLISTS  # noqa: F401  (re-exported: callers import it from here)
from finops_assets.lib.routing.settings import RoutingSettings

PATHS = ("deployment_correlation", "latent_code_change", "infrastructure_drift", "traffic_growth", "scheduled_job",
         "ri_expiry", "data_tier_threshold", "third_party_pricing", "security_incident", "unclassified")
DEPLOYMENT_PATHS = ("deployment_correlation", "latent_code_change")
DEFAULT_SETTINGS = RoutingSettings()

# Commit messages that touch what seed 000 lists as tractable code causes of cost (an SDK client, a
# query or index, a model id, a cache, a resource or autoscaler limit). A pre-screen for ranking
# only; the diff itself is read later (diff_analyses).
COST_RELEVANT = re.compile(
    r"\b(cache\w*|quer(y|ies)|index\w*|client|sdk|model|sonnet|opus|haiku|gpt[-\w]*|llm|replicas?|maxreplicas"
    r"|autoscal\w*|hpa|limits?|concurrency|batch\w*|loop|per[- ](request|item|call)|instance[- ]type|memory"
    r"|timeout|retention|scal\w+)\b", re.IGNORECASE)

# Seed 003's decaying confidence score: about 0.95 ten minutes after a deployment, 0.30 after three hours.
SCORE_AT_10_MIN, SCORE_AT_180_MIN = 0.95, 0.30


@dataclass(frozen=True)
class Decision:
    path: str
    confidence: str          # 'high' | 'medium' | 'low'
    rationale: str
    evidence: dict
    deployment_id: str | None = None
    rule: str = ""           # the name of the rule that decided (set by `decide`)


@dataclass(frozen=True)
class RoutingContext:
    """What routing knows beside the anomaly's own evidence row."""
    candidates: Sequence[dict]      # production deployments of the team's repositories, latent_days before onset
    has_repository_map: bool        # the team has a row in team_repositories
    window_hours: float = 6.0       # deployment correlation window (seed 000: 6 h, 2 to 24 configurable)
    latent_days: int = 7            # widened window for a gradual rise
    lookback_days: int = 28         # how far back detection looked for "new to the account / team"
    currency: str | None = None     # the reporting currency money in a rationale is in (lib/billing/currency.py)


@dataclass(frozen=True)
class Rule:
    name: str
    decide: Callable[[dict, RoutingContext, RoutingSettings], Decision | None]
    # Figures added to the decision's evidence once this rule is tried, so every later decision shows
    # what was weighed before it (keys of `figures`).
    records: tuple[str, ...] = field(default=())


def deployment_confidence(minutes_before: float, settings: RoutingSettings = DEFAULT_SETTINGS) -> tuple[str, float]:
    """Seed 000's bands (high within 60 min, medium within 240) and seed 003's decaying score:
    about 0.95 at 10 minutes and 0.30 at 3 hours. A deployment inside the onset hour counts as 0."""
    minutes = max(0.0, minutes_before)
    band = ("high" if minutes <= settings.high_confidence_minutes
            else "medium" if minutes <= settings.medium_confidence_minutes else "low")
    decay = math.log(SCORE_AT_10_MIN / SCORE_AT_180_MIN) / 170.0
    score = min(1.0, SCORE_AT_10_MIN * math.exp(-decay * (minutes - 10)))
    return band, round(score, 4)


def is_cost_relevant(commit_message: str | None) -> bool:
    message = commit_message or ""
    return not message.lower().startswith("revert") and bool(COST_RELEVANT.search(message))


def rank_candidates(candidates: list[dict]) -> list[dict]:
    """Same service first, then a cost-relevant change, then the closest to the onset."""
    return sorted(candidates, key=lambda c: (not c.get("same_service"), not is_cost_relevant(c.get("commit_message")),
                                             abs(c["minutes_before_anomaly"]), c["deployment_id"]))


def _ratio(after, before) -> float | None:
    if after is None or before is None or before == 0:
        return None
    return after / before


def _where(a: dict) -> str:
    return f"{a['resource_id']} on {a['anomaly_date']}"


# The figures rules derive from the evidence row.

def quantity_ratio(a: dict) -> float | None:
    """Quantity per hour after onset against the same hours a week earlier where the bill has them
    (weekly rhythm is not a change), else against the 72 hours before."""
    return (_ratio(a.get("quantity_per_hour_after"), a.get("quantity_per_hour_week_before"))
            or _ratio(a.get("quantity_per_hour_after"), a.get("quantity_per_hour_before")))


def unit_price_ratio(a: dict) -> float | None:
    return _ratio(a.get("unit_price_after"), a.get("unit_price_before"))


def traffic_ratio(a: dict) -> float | None:
    """The team's requests over the episode's days against the same weekdays before the rise."""
    return _ratio(a.get("requests_after"), a.get("requests_before"))


def unit_cost_ratio(a: dict) -> float | None:
    """The resource's cost per team request over the same days as traffic_ratio, after / before."""
    cost, requests = _ratio(a.get("traffic_cost_after"), a.get("traffic_cost_before")), traffic_ratio(a)
    return None if cost is None or not requests else cost / requests


def smooth_quantity(a: dict, settings: RoutingSettings) -> bool:
    ratio = quantity_ratio(a)
    return ratio is not None and settings.smooth_quantity_ratio_min <= ratio <= settings.smooth_quantity_ratio_max


def sharp_step(a: dict, settings: RoutingSettings) -> bool:
    step = a.get("onset_step_ratio")
    return ((step is not None and step >= settings.sharp_step_ratio_min)
            or (a.get("onset_level_ratio") or 0) >= settings.sharp_level_ratio_min)


def deployments_in_window(context: RoutingContext, settings: RoutingSettings) -> list[dict]:
    return [c for c in context.candidates
            if -settings.onset_hour_grace_minutes <= c["minutes_before_anomaly"] <= context.window_hours * 60]


def figures(a: dict) -> dict:
    """Every derived figure a rule may record in the evidence (see Rule.records)."""
    return {"quantity_ratio": quantity_ratio(a), "unit_price_ratio": unit_price_ratio(a),
            "sku_before": a.get("sku_before"), "sku_after": a.get("sku_after"),
            "service_category": a.get("service_category") or "", "traffic_ratio": traffic_ratio(a),
            "unit_cost_ratio": unit_cost_ratio(a), "traffic_days": a.get("traffic_days"),
            "traffic_before_from": None if a.get("traffic_before_from") is None else str(a["traffic_before_from"]),
            "onset_step_ratio": a.get("onset_step_ratio"), "onset_level_ratio": a.get("onset_level_ratio")}


# The rules, in the order RULES tries them.

def new_spend_in_new_place(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """New spend in a region or service the account / team never used: cryptomining, leaked keys."""
    first = a.get("resource_first_day")
    new_resource = first is not None and (a["anomaly_date"] - first).days <= settings.new_resource_max_age_days
    if not (new_resource and a.get("account_has_history")
            and (a.get("region_new_to_account") or a.get("service_new_to_team"))):
        return None
    place = (f"region {a.get('region_id')}, which sub-account {a.get('sub_account_id')} had not used in "
             f"{context.lookback_days} days" if a.get("region_new_to_account")
             else f"service {a.get('service_name')}, new to team {a.get('team')}")
    return Decision("security_incident", "high",
                    f"{_where(a)}: a new resource spent {format_money(a.get('actual_cost'), context.currency)} in a day in {place}.",
                    {"region_id": a.get("region_id"), "region_new_to_account": a.get("region_new_to_account"),
                     "service_new_to_team": a.get("service_new_to_team"), "resource_first_day": str(first)})


def commitment_coverage_drop(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A Reserved Instance / Savings Plan ended: the same usage now bills at on-demand rates."""
    before, after = a.get("committed_share_before"), a.get("committed_share_after")
    if not (before is not None and after is not None and before >= settings.committed_share_before_min
            and after <= settings.committed_share_after_max):
        return None
    return Decision("ri_expiry", "high",
                    f"{_where(a)}: commitment coverage fell from {before:.0%} to {after:.0%} at "
                    f"{a['detected_at']:%Y-%m-%d %H:%M} UTC; the same usage now bills at on-demand rates.",
                    {"committed_share_before": round(before, 3), "committed_share_after": round(after, 3)})


def third_party_price_rise(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A marketplace publisher raised its unit price while the quantity stayed put. Whether a line is
    third party is decided from vendor identities and marketplace markers (lib/billing/vendors.py),
    so a first-party line spelled 'AWS' / 'Amazon Web Services EMEA SARL' never comes here."""
    price = unit_price_ratio(a)
    if not (a.get("third_party_line") and price is not None and price >= settings.price_rise_ratio_min
            and smooth_quantity(a, settings)):
        return None
    return Decision("third_party_pricing", "high",
                    f"{_where(a)}: {a.get('publisher_name') or 'a marketplace seller'} (sold through {a.get('provider_name')}) raised the unit "
                    f"price {price:.2f}x while quantity moved {quantity_ratio(a):.2f}x.",
                    {"publisher": a.get("publisher_name"), "provider": a.get("provider_name")})


def price_tier_change(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """Storage or transfer volume grew smoothly into a pricier tier."""
    category = a.get("service_category") or ""
    price = unit_price_ratio(a)
    price_id_changed = (a.get("sku_price_before") is not None and a.get("sku_price_after") is not None
                        and a["sku_price_before"] != a["sku_price_after"])
    if not (category in ("Storage", "Networking") and smooth_quantity(a, settings)
            and ((price is not None and price >= settings.price_rise_ratio_min) or price_id_changed)):
        return None
    return Decision("data_tier_threshold", "high",
                    f"{_where(a)}: {category.lower()} volume grew smoothly ({quantity_ratio(a):.2f}x) but the price "
                    f"tier changed ({a.get('sku_price_before')} -> {a.get('sku_price_after')}, unit price "
                    f"{price or 1:.2f}x).", {})


def sku_or_type_change(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A SKU or size change of infrastructure is made in the console or IaC, not by an app release; a
    model id is chosen in code, so an AI SKU change goes on to the deployment rules."""
    sku_changed = a.get("sku_before") is not None and a.get("sku_after") is not None and a["sku_before"] != a["sku_after"]
    type_changed = (a.get("resource_type_before") is not None and a.get("resource_type_after") is not None
                    and a["resource_type_before"] != a["resource_type_after"])
    if not ((sku_changed or type_changed) and (a.get("service_category") or "") != "AI and Machine Learning"):
        return None
    near = min((c["minutes_before_anomaly"] for c in deployments_in_window(context, settings)), default=None)
    note = (f" A release landed {max(near, 0):.0f} min before, but releases do not resize instances."
            if near is not None else " No deployment of the team in the window.")
    return Decision("infrastructure_drift", "high" if near is None else "medium",
                    f"{_where(a)}: SKU changed {a.get('sku_before')} -> {a.get('sku_after')}"
                    f"{' and type ' + str(a.get('resource_type_after')) if type_changed else ''}; unit price "
                    f"{unit_price_ratio(a) or 1:.2f}x.{note}",
                    {"resource_type_before": a.get("resource_type_before"),
                     "resource_type_after": a.get("resource_type_after")})


def traffic_growth(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """The team's requests grew and the resource's cost per request stayed flat over the same days
    (the episode's against the same weekdays before the rise began, select_traffic_evidence.sql)."""
    ratio, unit = traffic_ratio(a), unit_cost_ratio(a)
    if not (ratio is not None and ratio >= settings.traffic_ratio_min
            and unit is not None and unit <= 1 + settings.traffic_unit_cost_tolerance):
        return None
    since = a.get("traffic_before_from")
    return Decision("traffic_growth", "high" if ratio >= settings.traffic_ratio_high else "medium",
                    f"{_where(a)}: team {a.get('team')}'s requests rose {ratio:.2f}x against the same weekdays "
                    f"{'of the week from ' + str(since) if since else 'before the rise'} and cost "
                    f"{_ratio(a['traffic_cost_after'], a['traffic_cost_before']):.2f}x over the same days; cost "
                    f"per request {unit:.2f}x: cost follows traffic.", {})


def recurring_spike(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """The same short spike recurs weekly or monthly (create_cost_anomalies.sql's recurrence_pattern)."""
    if not a.get("recurrence_pattern"):
        return None
    return Decision("scheduled_job", "high",
                    f"{_where(a)}: the same short spike recurs {a['recurrence_pattern']} "
                    f"(onset {a['detected_at']:%a %H:%M} UTC).", {"recurrence_pattern": a["recurrence_pattern"]})


def batch_burst(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A burst of a few hours from the onset, back to baseline the same day."""
    hours_up = a.get("hours_elevated_24h")
    if not (a.get("back_to_normal_within_8h") and hours_up is not None and hours_up <= settings.batch_max_hours):
        return None
    return Decision("scheduled_job", "medium",
                    f"{_where(a)}: a batch-shaped burst of {hours_up} hours from {a['detected_at']:%H:%M} UTC, back "
                    "to baseline the same day.", {"hours_elevated_24h": hours_up})


def sharp_step_unmapped_team(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A sharp step with no other evidence, for a team whose deployments cannot be checked."""
    if not (not context.has_repository_map and a.get("team") not in (None, "unallocated") and sharp_step(a, settings)):
        return None
    return Decision("deployment_correlation", "low",
                    f"{_where(a)}: a sharp step ({a.get('onset_step_ratio') or 0:.1f}x within three hours) with no "
                    f"other evidence, but team {a.get('team')} has no repository map, so its deployments cannot be "
                    "checked. Register its repositories in team_repositories.csv.", {})


def sharp_step_after_deployment(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """A sharp step within the correlation window after a production deployment: blame the most likely one."""
    window = deployments_in_window(context, settings)
    if not (sharp_step(a, settings) and window):
        return None
    best = rank_candidates(window)[0]
    band, score = deployment_confidence(best["minutes_before_anomaly"], settings)
    if not is_cost_relevant(best.get("commit_message")) and band == "high":
        band = "medium"  # close in time, but nothing in the change suggests cost
    return Decision("deployment_correlation", band,
                    f"{_where(a)}: cost stepped up {a.get('onset_step_ratio') or 0:.1f}x at "
                    f"{a['detected_at']:%H:%M} UTC, {max(best['minutes_before_anomaly'], 0):.0f} min after "
                    f"{best['repository']}@{best['commit_sha'][:8]} ('{best.get('commit_message')}') reached "
                    "production; no commitment, SKU, price, traffic or schedule change explains it.",
                    {"deployment_id": best["deployment_id"],
                     "minutes_before_anomaly": round(best["minutes_before_anomaly"], 1),
                     "confidence_score": score, "candidates_in_window": len(window)}, best["deployment_id"])


def gradual_rise_after_deployment(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision | None:
    """No sharp step, but cost rose over days after a deployment of the past `latent_days`."""
    if sharp_step(a, settings):
        return None
    latent = [c for c in context.candidates
              if settings.latent_min_minutes <= c["minutes_before_anomaly"] <= context.latent_days * 24 * 60]
    if not (latent and (a.get("days_elevated") or 0) >= settings.rising_min_days):
        return None
    best = rank_candidates(latent)[0]
    return Decision("latent_code_change", "medium" if is_cost_relevant(best.get("commit_message")) else "low",
                    f"{_where(a)}: cost rose gradually over {a.get('days_elevated')} days starting "
                    f"{best['minutes_before_anomaly'] / 1440:.1f} days after {best['repository']}@"
                    f"{best['commit_sha'][:8]} ('{best.get('commit_message')}').",
                    {"deployment_id": best["deployment_id"],
                     "minutes_before_anomaly": round(best["minutes_before_anomaly"], 1),
                     "candidates_in_window": len(latent)}, best["deployment_id"])


def unclassified(a: dict, context: RoutingContext, settings: RoutingSettings) -> Decision:
    """The fallback: no rule found conclusive evidence, so nobody is blamed."""
    sharp = sharp_step(a, settings)
    return Decision("unclassified", "low",
                    f"{_where(a)}: {a.get('sigma') or 0:.1f} sigma above baseline with no commitment, SKU, price, "
                    f"traffic, schedule or deployment evidence"
                    f"{' (sharp step, no deployment within ' + str(context.window_hours) + ' h)' if sharp else ''}.",
                    {})


BILL_FIGURES = ("quantity_ratio", "unit_price_ratio", "sku_before", "sku_after", "service_category")
RULES: tuple[Rule, ...] = (
    # Classify first: evidence for causes that are not code, strongest first.
    Rule("new_spend_in_new_place", new_spend_in_new_place),
    Rule("commitment_coverage_drop", commitment_coverage_drop),
    Rule("third_party_price_rise", third_party_price_rise, BILL_FIGURES),
    Rule("price_tier_change", price_tier_change),
    Rule("sku_or_type_change", sku_or_type_change),
    Rule("traffic_growth", traffic_growth, ("traffic_ratio", "unit_cost_ratio", "traffic_before_from", "traffic_days")),
    Rule("recurring_spike", recurring_spike),
    Rule("batch_burst", batch_burst),
    # Correlate second: deployments only when nothing above explains the anomaly.
    Rule("sharp_step_unmapped_team", sharp_step_unmapped_team, ("onset_step_ratio", "onset_level_ratio")),
    Rule("sharp_step_after_deployment", sharp_step_after_deployment),
    Rule("gradual_rise_after_deployment", gradual_rise_after_deployment),
)
FALLBACK = Rule("unclassified", unclassified)


def decide(a: dict, context: RoutingContext, settings: RoutingSettings = DEFAULT_SETTINGS,
           rules: Sequence[Rule] = RULES) -> Decision:
    """Classify first, correlate second: the rules are tried in order (non-code causes before
    deployments), the first that decides wins; `unclassified` when none does. The evidence holds the
    anomaly's figures, what the rules tried so far recorded, and the deciding rule's own evidence."""
    seen = figures(a)
    evidence: dict = {"sigma": a.get("sigma"), "excess_cost": a.get("excess_cost"),
                      "days_elevated": a.get("days_elevated"), "cost_pct_change": a.get("cost_pct_change")}
    for rule in (*rules, FALLBACK):
        evidence.update({key: seen[key] for key in rule.records})
        decision = rule.decide(a, context, settings)
        if decision is not None:
            return replace(decision, evidence={**evidence, **decision.evidence}, rule=rule.name)
    raise AssertionError("unreachable: the fallback always decides")


def route(a: dict, candidates: list[dict], has_repository_map: bool, window_hours: float = 6.0,
          latent_days: int = 7, settings: RoutingSettings | None = None, currency: str | None = None) -> Decision:
    """The cause of one anomaly. `a` is a row of lib.detection.pipeline.anomaly_evidence; `candidates`
    are its production deployments of the team's repositories within `latent_days` before onset;
    `currency` the reporting currency its money is in."""
    context = RoutingContext(candidates, has_repository_map, window_hours, latent_days, currency=currency)
    return decide(a, context, settings or DEFAULT_SETTINGS)


def evidence_json(evidence: dict) -> str:
    return json.dumps(evidence, sort_keys=True, default=str)
