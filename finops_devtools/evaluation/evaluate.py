"""Score detection, routing and correlation against a generated folder's ground_truth.json.

Counting is per episode. A truth episode is one resource's reaction to one injected event (each
recurrence of a scheduled job is its own episode); it is detected when an anomaly on that resource
starts within a day before to two days after the onset. A predicted anomaly is correct when it
detects a truth episode or lies inside a live event on its resource (a persistent change seen again);
anything else is a false positive.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from finops_assets.lib.routing.rules import DEPLOYMENT_PATHS


@dataclass
class Scores:
    truth_episodes: int = 0
    predicted: int = 0
    detected: int = 0
    correct_predictions: int = 0
    routed_right: dict[str, list[int]] = field(default_factory=dict)  # cause -> [right, detected]
    non_deployment_anomalies: int = 0
    false_blames: int = 0
    deployment_episodes: int = 0
    top1_right: int = 0

    @property
    def precision(self) -> float:
        return self.correct_predictions / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.detected / self.truth_episodes if self.truth_episodes else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def routing_accuracy(self) -> float:
        right = sum(v[0] for v in self.routed_right.values())
        total = sum(v[1] for v in self.routed_right.values())
        return right / total if total else 0.0

    @property
    def false_blame_rate(self) -> float:
        return self.false_blames / self.non_deployment_anomalies if self.non_deployment_anomalies else 0.0

    @property
    def top1_deployment(self) -> float:
        return self.top1_right / self.deployment_episodes if self.deployment_episodes else 0.0

    def figures(self) -> dict[str, float]:
        return {"detection_precision": self.precision, "detection_recall": self.recall, "detection_f1": self.f1,
                "routing_accuracy": self.routing_accuracy, "false_blame_rate": self.false_blame_rate,
                "top1_deployment": self.top1_deployment}


def _day(ts: str) -> date:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).date()


def truth_episodes(truth: dict) -> list[dict]:
    bill_end = date.fromisoformat(truth["end"])
    episodes = []
    for event in truth["events"]:
        end = _day(event["end"]) if event["end"] else bill_end
        onsets = [event["onset"], *event.get("recurrences", [])]
        for resource_id in event["resource_ids"]:
            for onset in onsets:
                start = _day(onset)
                episode_end = start + timedelta(days=1) if event["cause"] == "scheduled_job" else end
                episodes.append({"event_id": event["event_id"], "cause": event["cause"], "resource_id": resource_id,
                                 "onset": start, "end": episode_end, "deployment_id": event["deployment_id"],
                                 "expected_outcome": event.get("expected_outcome")})
    return episodes


def score(truth: dict, predictions: pl.DataFrame) -> Scores:
    """predictions: resource_id, anomaly_date, path, deployment_id (one row per predicted anomaly)."""
    episodes = truth_episodes(truth)
    by_resource: dict[str, list[dict]] = {}
    for row in predictions.iter_rows(named=True):
        by_resource.setdefault(row["resource_id"], []).append(row)
    s = Scores(truth_episodes=len(episodes), predicted=predictions.height)
    matched_predictions: dict[int, dict] = {}  # id(prediction) -> episode it detected or lies in
    for episode in episodes:
        candidates = sorted((p for p in by_resource.get(episode["resource_id"], [])
                             if episode["onset"] - timedelta(days=1) <= p["anomaly_date"] <= episode["onset"] + timedelta(days=2)),
                            key=lambda p: p["anomaly_date"])
        right_cause = s.routed_right.setdefault(episode["cause"], [0, 0])
        if not candidates:
            continue
        s.detected += 1
        first = candidates[0]
        matched_predictions[id(first)] = episode
        right_cause[1] += 1
        right_cause[0] += first["path"] == episode["cause"]
        if episode["deployment_id"] and episode["expected_outcome"] == "deployment_found":
            s.deployment_episodes += 1
            s.top1_right += first["deployment_id"] == episode["deployment_id"]
    for rows in by_resource.values():
        for p in rows:
            episode = matched_predictions.get(id(p)) or next(
                (e for e in episodes if e["resource_id"] == p["resource_id"]
                 and e["onset"] - timedelta(days=1) <= p["anomaly_date"] <= e["end"] + timedelta(days=1)), None)
            s.correct_predictions += episode is not None
            if episode is None or episode["cause"] not in DEPLOYMENT_PATHS:
                s.non_deployment_anomalies += 1
                s.false_blames += p["deployment_id"] is not None  # a named deployment that did not do it
    return s


def our_predictions(warehouse: Path) -> pl.DataFrame:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.sql("select a.resource_id, a.anomaly_date, r.path, r.deployment_id "
                        "from cost_anomalies a join routing_decisions r using (anomaly_id)").pl()
    finally:
        conn.close()


def seed_predictions(warehouse: Path) -> pl.DataFrame:
    """Seed 000's method as printed, on the same rollup and side inputs."""
    from finops_devtools.evaluation.seed_method import run_seed_method

    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        daily = conn.sql("select resource_id, usage_date, sum(cost)::double as cost, any_value(service_name) as service_name, "
                         "any_value(department) as department, any_value(team) as team from billing_rollup "
                         "where charge_category = 'Usage' and resource_id is not null group by all").pl()
        deployments = conn.sql("select * from deployment_events").pl()
        repositories = conn.sql("select * from team_repositories").pl()
    finally:
        conn.close()
    return run_seed_method(daily, deployments, repositories).select("resource_id", "anomaly_date", "path", "deployment_id")


def evaluate(data_dir: Path, warehouse: Path) -> dict[str, Scores]:
    truth_path = data_dir / "ground_truth.json"
    if not truth_path.exists():
        raise FileNotFoundError(f"{truth_path} not found: evaluate needs a folder made by generate-sample")
    truth = json.loads(truth_path.read_text())
    return {"ours": score(truth, our_predictions(warehouse)), "seed_000": score(truth, seed_predictions(warehouse))}


def format_report(results: dict[str, Scores]) -> str:
    names = list(results)
    lines = [f"{'figure':<22}" + "".join(f"{n:>12}" for n in names)]
    for figure in results[names[0]].figures():
        lines.append(f"{figure:<22}" + "".join(f"{results[n].figures()[figure]:>12.3f}" for n in names))
    causes = sorted({c for s in results.values() for c in s.routed_right})
    lines.append("routing accuracy per cause (right/detected):")
    for cause in causes:
        cells = "".join(f"{'%d/%d' % tuple(results[n].routed_right.get(cause, [0, 0])):>12}" for n in names)
        lines.append(f"  {cause:<20}" + cells)
    ours = results[names[0]]
    lines.append(f"episodes: {ours.truth_episodes} in truth; predicted anomalies: "
                 + ", ".join(f"{n} {results[n].predicted}" for n in names))
    return "\n".join(lines)
