"""End to end through the real ingestion, rollup, detection and routing SQL (no Dagster run): traffic
growth judged like with like. Requests and cost are compared over the same days (the episode's,
against the same weekdays before the rise began), and by cost per request. Three teams, each with
one resource whose hourly quantity follows the team's requests:

- `ramp`: requests +3% a day for six weeks, cost following, unit cost flat, a harmless release
  every day of the ramp (so one always lands in the week before an onset): traffic growth;
- `pricey`: requests 1.3x from one day, cost per request 1.6x (cost 2.08x): not traffic growth;
- `spike`: one day of 3x requests, cost following: traffic growth.
"""

import csv
import json
import math
from datetime import date, datetime, timedelta

import duckdb
import pytest

from finops_assets_tests.standins.bill_chain import route_bill

START = date(2025, 1, 6)          # a Monday
DAYS = 84
RAMP_FROM, RAMP_DAYS = 35, 42     # +3% a day from day 35 for six weeks, then level
STEP_DAY = 60                     # pricey's step and spike's one-day spike
COLUMNS = ("BillingAccountId", "SubAccountId", "ProviderName", "PublisherName", "InvoiceIssuerName",
           "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeFrequency", "ChargeDescription",
           "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "ResourceId", "ResourceType", "RegionId",
           "BillingCurrency", "BilledCost", "EffectiveCost", "ListCost", "ListUnitPrice", "ConsumedQuantity",
           "PricingQuantity", "Tags")
BASE_REQUESTS = 100_000
PRICE = 0.5                       # per instance-hour


def rhythm(day: int) -> float:
    """Weekends at 70%, and a little deterministic day-to-day noise."""
    return (0.7 if (START + timedelta(days=day)).weekday() >= 5 else 1.0) * (1 + 0.02 * math.sin(day * 1.7))


def growth(team: str, day: int) -> float:
    """The team's requests relative to its base, weekly rhythm aside."""
    if team == "ramp":
        return 1.03 ** min(max(day - RAMP_FROM + 1, 0), RAMP_DAYS)
    if team == "pricey":
        return 1.3 if day >= STEP_DAY else 1.0
    return 3.0 if day == STEP_DAY else 1.0


def unit_cost(team: str, day: int) -> float:
    return 1.6 if team == "pricey" and day >= STEP_DAY else 1.0


TEAMS = ("ramp", "pricey", "spike")


def _bill(path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(DAYS * 24):
            hour, day = datetime.combine(START, datetime.min.time()) + timedelta(hours=n), n // 24
            for team in TEAMS:
                qty = 10.0 * rhythm(day) * growth(team, day) * unit_cost(team, day)  # more instances per request
                cost = f"{qty * PRICE:.6f}"
                row = {"BillingAccountId": "payer-1", "SubAccountId": "111122223333", "ProviderName": "AWS",
                       "PublisherName": "Amazon Web Services, Inc.", "InvoiceIssuerName": "Amazon Web Services, Inc.",
                       "ChargePeriodStart": f"{hour:%Y-%m-%dT%H:%M:%SZ}",
                       "ChargePeriodEnd": f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                       "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
                       "ChargeDescription": "Amazon Elastic Compute Cloud m6i.large", "ServiceCategory": "Compute",
                       "ServiceName": "Amazon Elastic Compute Cloud", "SkuId": "m6i.large",
                       "SkuPriceId": "m6i.large.JRTCKXETXF", "ResourceId": f"asg-{team}",
                       "ResourceType": "AutoScalingGroup", "RegionId": "eu-west-1", "BillingCurrency": "USD",
                       "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ListUnitPrice": f"{PRICE}",
                       "ConsumedQuantity": f"{qty:.6f}", "PricingQuantity": f"{qty:.6f}",
                       "Tags": json.dumps({"department": "commerce", "team": team, "service": team})}
                writer.writerow([row[c] for c in COLUMNS])


def _side_inputs() -> dict[str, list[dict]]:
    traffic = [{"date": START + timedelta(days=d), "department": "commerce", "team": team,
                "requests": round(BASE_REQUESTS * rhythm(d) * growth(team, d))}
               for d in range(DAYS) for team in TEAMS]
    repositories = [{"department": "commerce", "team": team, "repository": f"acme/{team}", "primary_repo": True}
                    for team in TEAMS]
    releases = [{"id": f"dep-ramp-{d}", "deployed_at": datetime.combine(START + timedelta(days=d), datetime.min.time())
                 + timedelta(hours=2), "service_name": "ramp", "environment": "production",
                 "commit_sha": f"{d:040x}", "commit_message": "Tune log levels", "branch": "main",
                 "repository": "acme/ramp", "ci_system": "github_actions", "triggered_by": "dev",
                 "pipeline_url": f"https://ci.example/{d}"} for d in range(RAMP_FROM - 7, DAYS)]
    return {"traffic_metrics": traffic, "team_repositories": repositories, "deployment_events": releases}


@pytest.fixture(scope="module")
def routed(tmp_path_factory) -> list[dict]:
    """Every anomaly with its routing decision, after the whole chain on the bill above."""
    tmp = tmp_path_factory.mktemp("traffic-growth")
    _bill(tmp / "aws_focus.csv")
    conn = duckdb.connect(str(tmp / "w.duckdb"))
    route_bill(conn, tmp / "aws_focus.csv", START, DAYS, tmp, side_rows=_side_inputs())
    cursor = conn.execute("select a.resource_id, a.anomaly_date, a.days_elevated, r.path, r.confidence, r.rationale, "
                          "r.evidence from cost_anomalies a join routing_decisions r using (anomaly_id) order by 1, 2")
    names = [c[0] for c in cursor.description]
    decided = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    conn.close()
    for row in decided:
        row["evidence"] = json.loads(row["evidence"])
    return decided


def requests(team: str, day: date) -> int:
    d = (day - START).days
    return round(BASE_REQUESTS * rhythm(d) * growth(team, d))


def same_days_ratio(team: str, anomaly: dict) -> float:
    """Requests over the episode's days against the before-week's days of the same weekdays."""
    before_from = date.fromisoformat(anomaly["evidence"]["traffic_before_from"])
    days = [anomaly["anomaly_date"] + timedelta(days=i) for i in range(anomaly["evidence"]["traffic_days"])]
    matched = [before_from + timedelta(days=(d - before_from).days % 7) for d in days]
    assert all(m.weekday() == d.weekday() for m, d in zip(matched, days, strict=True))
    return sum(requests(team, d) for d in days) / sum(requests(team, m) for m in matched)


def _of(routed, resource) -> list[dict]:
    found = [r for r in routed if r["resource_id"] == resource]
    assert found, f"no anomaly on {resource}"
    return found


def test_a_six_week_ramp_with_cost_following_is_traffic_growth_despite_a_release_that_week(routed):
    ramp = _of(routed, "asg-ramp")
    first = ramp[0]
    assert RAMP_FROM < (first["anomaly_date"] - START).days < RAMP_FROM + RAMP_DAYS
    for anomaly in ramp:
        assert (anomaly["path"], anomaly["confidence"]) in {("traffic_growth", "high"), ("traffic_growth", "medium")}, anomaly
        # Measured from before the ramp began, cost per request flat (only the 2% noise is not shared).
        before_week_ends = date.fromisoformat(anomaly["evidence"]["traffic_before_from"]) + timedelta(days=6)
        assert before_week_ends < START + timedelta(days=RAMP_FROM)
        assert anomaly["evidence"]["unit_cost_ratio"] == pytest.approx(1.0, abs=0.01)
    # The day before onset was already 1.03**6 up the ramp: against it, requests on the first flagged
    # day rose only 1.03x, and against a week earlier 1.23x (below traffic_ratio_min: the old rule).
    assert first["evidence"]["traffic_ratio"] == pytest.approx(same_days_ratio("ramp", first), rel=1e-9)
    assert first["evidence"]["traffic_ratio"] > 1.5 and first["evidence"]["traffic_days"] == first["days_elevated"] + 1
    assert "cost per request 1.00x: cost follows traffic" in first["rationale"]


def test_requests_up_1_3x_with_cost_per_request_up_1_6x_is_not_traffic_growth(routed):
    (pricey,) = _of(routed, "asg-pricey")
    assert (pricey["anomaly_date"] - START).days == STEP_DAY
    assert pricey["path"] != "traffic_growth"
    assert pricey["evidence"]["traffic_ratio"] == pytest.approx(same_days_ratio("pricey", pricey), rel=1e-9)
    assert pricey["evidence"]["traffic_ratio"] == pytest.approx(1.3, rel=0.01)
    assert pricey["evidence"]["unit_cost_ratio"] == pytest.approx(1.6, rel=0.01)


def test_a_one_day_traffic_spike_with_cost_following_is_traffic_growth(routed):
    (spike,) = _of(routed, "asg-spike")
    assert ((spike["anomaly_date"] - START).days, spike["days_elevated"]) == (STEP_DAY, 1)
    assert (spike["path"], spike["confidence"]) == ("traffic_growth", "high")
    assert spike["evidence"]["traffic_ratio"] == pytest.approx(same_days_ratio("spike", spike), rel=1e-9)
    assert spike["evidence"]["traffic_ratio"] == pytest.approx(3.0, rel=0.05)
    assert spike["evidence"]["unit_cost_ratio"] == pytest.approx(1.0, abs=0.01)
    assert spike["evidence"]["traffic_days"] == 1
