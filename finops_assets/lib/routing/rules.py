"""Decide each anomaly's most likely cause from evidence, before any deployment is looked at.

Classify first, correlate second (DESIGN.md section 1): the evidence the bill carries for a cause
that is not code (a commitment ending, a SKU change, a publisher's price, a new price tier, new
spend in a new region, traffic, a recurring schedule) is checked before deployments, so a harmless
release that lands near such an anomaly is never blamed. Without conclusive evidence the answer is
`unclassified`: safe, where a wrong deployment costs an engineer hours.
"""

import json
import math
import re
from dataclasses import dataclass

PATHS = ("deployment_correlation", "latent_code_change", "infrastructure_drift", "traffic_growth", "scheduled_job",
         "ri_expiry", "data_tier_threshold", "third_party_pricing", "security_incident", "unclassified")
DEPLOYMENT_PATHS = ("deployment_correlation", "latent_code_change")

# Commit messages that touch what seed 000 lists as tractable code causes of cost (an SDK client, a
# query or index, a model id, a cache, a resource or autoscaler limit). A pre-screen for ranking
# only; the diff itself is read later (diff_analyses).
COST_RELEVANT = re.compile(
    r"\b(cache\w*|quer(y|ies)|index\w*|client|sdk|model|sonnet|opus|haiku|gpt[-\w]*|llm|replicas?|maxreplicas"
    r"|autoscal\w*|hpa|limits?|concurrency|batch\w*|loop|per[- ](request|item|call)|instance[- ]type|memory"
    r"|timeout|retention|scal\w+)\b", re.IGNORECASE)

CHECKLISTS: dict[str, list[str]] = {
    "infrastructure_drift": [
        "Check CloudTrail / the activity log for console or API changes to the resource at the onset hour",
        "Compare the resource's SKU, size and count with its Terraform / IaC definition",
        "Run `terraform plan` (or your IaC drift check) for the owning stack",
        "If the change was intended, update the IaC and the budget; else revert it",
    ],
    "traffic_growth": [
        "Confirm the request growth with the product or marketing calendar (campaign, launch, seasonality)",
        "Check that cost per request stayed flat: growth is fine, worse unit cost is not",
        "Review autoscaling limits and commitments for the new level",
        "Update the forecast and budget if the growth is expected to last",
    ],
    "scheduled_job": [
        "List cron jobs, batch schedules and data pipelines that run at the onset hour on that weekday",
        "Check whether the job is new or its input grew",
        "Move it to cheaper capacity (spot, off-peak, a smaller instance) if it is expected",
        "Suppress future alerts for the known schedule once confirmed",
    ],
    "ri_expiry": [
        "Check the commitment (Reserved Instance / Savings Plan) expiry dates in the billing console",
        "Renew or buy a replacement commitment sized to current usage",
        "Set an expiry reminder 30 days ahead for the remaining commitments",
    ],
    "data_tier_threshold": [
        "Check the storage or transfer volume against the provider's price tiers and your commitments",
        "Look for data that could be archived, compressed or moved to a cheaper class",
        "Add lifecycle rules or retention limits for the growing dataset",
        "Negotiate or buy the next volume commitment if the growth is expected",
    ],
    "third_party_pricing": [
        "Check the publisher's price list and your marketplace agreement for a price change",
        "Confirm the quantity (hosts, seats, units) did not change",
        "Ask procurement about a negotiated rate or an alternative",
    ],
    "security_incident": [
        "Treat as a possible compromise: review CloudTrail / activity logs for the new resources' creator",
        "Rotate the access keys or credentials that created them",
        "Stop or isolate the resources after taking snapshots for forensics",
        "Block unused regions with an organization policy (SCP / Azure Policy)",
        "Open a security incident and tell the account owner",
    ],
    "unclassified": [
        "Open the resource's hourly cost and usage around the onset hour",
        "Check recent changes: deployments, console changes, data volume, traffic",
        "Ask the owning team; if they confirm a cause, record it so the router learns the pattern",
    ],
    "deployment_correlation": [
        "Register the team's repositories in team_repositories.csv so deployments can be matched",
        "Check the team's recent releases against the onset hour",
    ],
    "latent_code_change": [
        "Check the team's releases of the past week for queries, loops or caching changes",
        "Compare query plans and request counts before and after the rise began",
    ],
}


@dataclass(frozen=True)
class Decision:
    path: str
    confidence: str          # 'high' | 'medium' | 'low'
    rationale: str
    evidence: dict
    deployment_id: str | None = None


def deployment_confidence(minutes_before: float) -> tuple[str, float]:
    """Seed 000's bands (high within 60 min, medium within 240) and seed 003's decaying score:
    about 0.95 at 10 minutes and 0.30 at 3 hours. A deployment inside the onset hour counts as 0."""
    minutes = max(0.0, minutes_before)
    band = "high" if minutes <= 60 else "medium" if minutes <= 240 else "low"
    decay = math.log(0.95 / 0.30) / 170.0
    score = min(1.0, 0.95 * math.exp(-decay * (minutes - 10)))
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


def _money(value) -> str:
    return f"${value:,.0f}" if value is not None else "n/a"


def route(a: dict, candidates: list[dict], has_repository_map: bool, window_hours: float = 6.0,
          latent_days: int = 7) -> Decision:
    """The cause of one anomaly. `a` is a row of lib.detection.anomaly_evidence; `candidates` are its
    production deployments of the team's repositories within `latent_days` before onset."""
    ev: dict = {"sigma": a.get("sigma"), "excess_cost": a.get("excess_cost"), "days_elevated": a.get("days_elevated"),
                "cost_pct_change": a.get("cost_pct_change")}
    # Against the same hours a week earlier where the bill has them: weekly rhythm is not a change.
    quantity_ratio = (_ratio(a.get("quantity_per_hour_after"), a.get("quantity_per_hour_week_before"))
                      or _ratio(a.get("quantity_per_hour_after"), a.get("quantity_per_hour_before")))
    price_ratio = _ratio(a.get("unit_price_after"), a.get("unit_price_before"))
    smooth_quantity = quantity_ratio is not None and 0.8 <= quantity_ratio <= 1.25
    category = a.get("service_category") or ""
    where = f"{a['resource_id']} on {a['anomaly_date']}"

    # New spend in a region or service the account / team never used: cryptomining, leaked keys.
    new_resource = a.get("resource_first_day") is not None and (a["anomaly_date"] - a["resource_first_day"]).days <= 2
    if new_resource and a.get("account_has_history") and (a.get("region_new_to_account") or a.get("service_new_to_team")):
        ev.update(region_id=a.get("region_id"), region_new_to_account=a.get("region_new_to_account"),
                  service_new_to_team=a.get("service_new_to_team"), resource_first_day=str(a["resource_first_day"]))
        place = (f"region {a.get('region_id')}, which sub-account {a.get('sub_account_id')} had not used in 28 days"
                 if a.get("region_new_to_account") else f"service {a.get('service_name')}, new to team {a.get('team')}")
        return Decision("security_incident", "high",
                        f"{where}: a new resource spent {_money(a.get('actual_cost'))} in a day in {place}.", ev)

    before, after = a.get("committed_share_before"), a.get("committed_share_after")
    if before is not None and after is not None and before >= 0.5 and after <= 0.1:
        ev.update(committed_share_before=round(before, 3), committed_share_after=round(after, 3))
        return Decision("ri_expiry", "high",
                        f"{where}: commitment coverage fell from {before:.0%} to {after:.0%} at "
                        f"{a['detected_at']:%Y-%m-%d %H:%M} UTC; the same usage now bills at on-demand rates.", ev)

    sku_changed = a.get("sku_before") is not None and a.get("sku_after") is not None and a["sku_before"] != a["sku_after"]
    type_changed = (a.get("resource_type_before") is not None and a.get("resource_type_after") is not None
                    and a["resource_type_before"] != a["resource_type_after"])
    price_id_changed = (a.get("sku_price_before") is not None and a.get("sku_price_after") is not None
                        and a["sku_price_before"] != a["sku_price_after"])
    ev.update(quantity_ratio=quantity_ratio, unit_price_ratio=price_ratio, sku_before=a.get("sku_before"),
              sku_after=a.get("sku_after"), service_category=category)

    if a.get("third_party_line") and price_ratio is not None and price_ratio >= 1.1 and smooth_quantity:
        ev.update(publisher=a.get("publisher_name"), provider=a.get("provider_name"))
        return Decision("third_party_pricing", "high",
                        f"{where}: {a.get('publisher_name')} (sold through {a.get('provider_name')}) raised the unit "
                        f"price {price_ratio:.2f}x while quantity moved {quantity_ratio:.2f}x.", ev)

    if category in ("Storage", "Networking") and smooth_quantity and (
            (price_ratio is not None and price_ratio >= 1.1) or price_id_changed):
        return Decision("data_tier_threshold", "high",
                        f"{where}: {category.lower()} volume grew smoothly ({quantity_ratio:.2f}x) but the price tier "
                        f"changed ({a.get('sku_price_before')} -> {a.get('sku_price_after')}, unit price "
                        f"{price_ratio or 1:.2f}x).", ev)

    window = [c for c in candidates if -60 <= c["minutes_before_anomaly"] <= window_hours * 60]
    # A SKU or size change of infrastructure is made in the console or IaC, not by an app release; a
    # model id is chosen in code, so an AI SKU change goes on to the deployment check.
    if (sku_changed or type_changed) and category != "AI and Machine Learning":
        near = min((c["minutes_before_anomaly"] for c in window), default=None)
        ev.update(resource_type_before=a.get("resource_type_before"), resource_type_after=a.get("resource_type_after"))
        note = (f" A release landed {max(near, 0):.0f} min before, but releases do not resize instances."
                if near is not None else " No deployment of the team in the window.")
        return Decision("infrastructure_drift", "high" if near is None else "medium",
                        f"{where}: SKU changed {a.get('sku_before')} -> {a.get('sku_after')}"
                        f"{' and type ' + str(a.get('resource_type_after')) if type_changed else ''}; unit price "
                        f"{price_ratio or 1:.2f}x.{note}", ev)

    traffic_ratio = _ratio(a.get("requests_after"), a.get("requests_before"))
    ev["traffic_ratio"] = traffic_ratio
    pct = a.get("cost_pct_change")
    if traffic_ratio is not None and traffic_ratio >= 1.25 and (pct is None or pct <= 2 * (traffic_ratio - 1) + 0.3):
        return Decision("traffic_growth", "high" if traffic_ratio >= 1.5 else "medium",
                        f"{where}: team {a.get('team')}'s requests rose {traffic_ratio:.2f}x against the same "
                        f"weekdays a week earlier and cost rose {pct or 0:+.0%}: cost follows traffic.", ev)

    if a.get("recurrence_pattern"):
        ev["recurrence_pattern"] = a["recurrence_pattern"]
        return Decision("scheduled_job", "high",
                        f"{where}: the same short spike recurs {a['recurrence_pattern']} "
                        f"(onset {a['detected_at']:%a %H:%M} UTC).", ev)
    hours_up = a.get("hours_elevated_24h")
    if a.get("back_to_normal_within_8h") and hours_up is not None and hours_up <= 8:
        ev.update(hours_elevated_24h=hours_up)
        return Decision("scheduled_job", "medium",
                        f"{where}: a batch-shaped burst of {hours_up} hours from {a['detected_at']:%H:%M} UTC, back "
                        "to baseline the same day.", ev)

    step = a.get("onset_step_ratio")
    sharp = (step is not None and step >= 1.4) or (a.get("onset_level_ratio") or 0) >= 1.5
    ev.update(onset_step_ratio=step, onset_level_ratio=a.get("onset_level_ratio"))
    if not has_repository_map and a.get("team") not in (None, "unallocated") and sharp:
        return Decision("deployment_correlation", "low",
                        f"{where}: a sharp step ({step or 0:.1f}x within three hours) with no other evidence, but team "
                        f"{a.get('team')} has no repository map, so its deployments cannot be checked. Register its "
                        "repositories in team_repositories.csv.", ev)
    if sharp and window:
        best = rank_candidates(window)[0]
        band, score = deployment_confidence(best["minutes_before_anomaly"])
        if not is_cost_relevant(best.get("commit_message")) and band == "high":
            band = "medium"  # close in time, but nothing in the change suggests cost
        ev.update(deployment_id=best["deployment_id"], minutes_before_anomaly=round(best["minutes_before_anomaly"], 1),
                  confidence_score=score, candidates_in_window=len(window))
        return Decision("deployment_correlation", band,
                        f"{where}: cost stepped up {step or 0:.1f}x at {a['detected_at']:%H:%M} UTC, "
                        f"{max(best['minutes_before_anomaly'], 0):.0f} min after {best['repository']}@"
                        f"{best['commit_sha'][:8]} ('{best.get('commit_message')}') reached production; no "
                        "commitment, SKU, price, traffic or schedule change explains it.", ev, best["deployment_id"])
    if not sharp:
        latent = [c for c in candidates if 60 <= c["minutes_before_anomaly"] <= latent_days * 24 * 60]
        rising = (a.get("days_elevated") or 0) >= 2
        if latent and rising:
            best = rank_candidates(latent)[0]
            relevant = is_cost_relevant(best.get("commit_message"))
            ev.update(deployment_id=best["deployment_id"], minutes_before_anomaly=round(best["minutes_before_anomaly"], 1),
                      candidates_in_window=len(latent))
            return Decision("latent_code_change", "medium" if relevant else "low",
                            f"{where}: cost rose gradually over {a.get('days_elevated')} days starting "
                            f"{best['minutes_before_anomaly'] / 1440:.1f} days after {best['repository']}@"
                            f"{best['commit_sha'][:8]} ('{best.get('commit_message')}').", ev, best["deployment_id"])
    return Decision("unclassified", "low",
                    f"{where}: {a.get('sigma') or 0:.1f} sigma above baseline with no commitment, SKU, price, traffic, "
                    f"schedule or deployment evidence{' (sharp step, no deployment within ' + str(window_hours) + ' h)' if sharp else ''}.",
                    ev)


def evidence_json(evidence: dict) -> str:
    return json.dumps(evidence, sort_keys=True, default=str)
