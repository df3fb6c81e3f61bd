"""The sample generator: deterministic, in the input contract, and its ground truth is visible in the bill."""

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from finops_assets.cli import main
from finops_devtools.sample.generator import generate_sample

ALL_CAUSES = {"deployment_correlation", "latent_code_change", "infrastructure_drift", "traffic_growth",
              "scheduled_job", "ri_expiry", "data_tier_threshold", "third_party_pricing", "security_incident"}


def folder_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, seed=3, days=45, resources=30)
    return out


@pytest.fixture(scope="module")
def truth(sample) -> dict:
    return json.loads((sample / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def bill(sample):
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    billing = sample / "billing"
    # Everything as text first: the CSV months carry deliberately broken rows.
    conn.execute(f"create table csv_rows as select * from read_csv('{billing}/*.csv.gz', all_varchar = true)")
    conn.execute(f"create table bill as select * from read_parquet('{billing}/*.parquet')")
    conn.execute("""insert into bill by name
        select * replace (try_cast(BilledCost as double) as BilledCost, try_cast(Tags as json) as Tags)
        from csv_rows""")
    conn.execute("""create table daily as
        select ResourceId as resource_id, ChargePeriodStart::timestamptz::date as day,
               sum(EffectiveCost::double) as cost, max(ListUnitPrice::double) as unit_price,
               sum(ConsumedQuantity::double) as quantity, max(SkuPriceId) as sku_price,
               bool_or(CommitmentDiscountId is not null) as committed
        from bill where ChargeCategory = 'Usage' and BilledCost is not null group by all""")
    yield conn
    conn.close()


def mean_cost(bill, resource_id: str, first: str, last: str) -> float:
    return bill.execute("select avg(cost) from daily where resource_id = ? and day between ? and ?",
                        [resource_id, first, last]).fetchall()[0][0] or 0.0


def day(ts: str, offset: int = 0) -> str:
    return (datetime.fromisoformat(ts.replace("Z", "+00:00")) + timedelta(days=offset)).date().isoformat()


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_sample(tmp_path / name, seed=seed, days=20, resources=24)
    assert folder_digest(tmp_path / "a") == folder_digest(tmp_path / "b")
    differing = {k for k, v in folder_digest(tmp_path / "c").items() if folder_digest(tmp_path / "a").get(k) != v}
    assert "ground_truth.json" in differing and "deployments/deployments.jsonl" in differing


def test_regenerating_into_a_folder_replaces_what_it_wrote_before(tmp_path):
    generate_sample(tmp_path, seed=1, days=70, resources=24)  # three monthly files
    generate_sample(tmp_path, seed=1, days=20, resources=24)  # one
    assert sorted(p.name for p in (tmp_path / "billing").iterdir()) == ["focus_2026-06.parquet"]


def test_folder_follows_the_input_contract(sample):
    assert {p.name for p in sample.iterdir()} >= {"billing", "deployments", "team_repositories.csv", "traffic.csv",
                                                  "incidents.csv", "ground_truth.json"}
    # Months alternate Parquet and gzip CSV, so every run exercises both readers.
    assert sorted(p.name for p in (sample / "billing").iterdir()) == ["focus_2026-06.parquet", "focus_2026-07.csv.gz"]
    lines = (sample / "deployments" / "deployments.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert set(events[0]) == {"id", "deployed_at", "service_name", "environment", "commit_sha", "commit_message",
                              "branch", "repository", "ci_system", "triggered_by", "pipeline_url"}
    assert len({e["id"] for e in events}) == len(events) - 1  # one webhook delivered twice


def test_bill_has_every_kind_of_charge_a_real_bill_has(bill):
    categories = dict(bill.sql("select ChargeCategory, count(*) from bill group by 1").fetchall())
    assert set(categories) == {"Usage", "Purchase", "Credit", "Tax"}
    assert bill.sql("select count(*) from bill where PublisherName <> ProviderName").fetchall()[0][0] > 0
    assert bill.sql("select count(*) from bill where PricingCategory = 'Committed' "
                    "and ChargeCategory = 'Usage' and BilledCost = 0 and EffectiveCost > 0").fetchall()[0][0] > 0
    services = {r[0] for r in bill.sql("select distinct ServiceCategory from bill").fetchall()}
    assert {"Compute", "Databases", "Storage", "Networking", "AI and Machine Learning"} <= services
    # Hourly: a usage row per resource and hour.
    assert bill.sql("select count(distinct hour(ChargePeriodStart::timestamptz)) from bill").fetchall()[0][0] == 24


def test_ground_truth_has_every_cause_with_onset_resources_and_deployment(truth, sample):
    assert {e["cause"] for e in truth["events"]} == ALL_CAUSES
    deployments = {json.loads(line)["id"]: json.loads(line)
                   for line in (sample / "deployments" / "deployments.jsonl").read_text().splitlines()}
    registered = (sample / "team_repositories.csv").read_text()
    for event in truth["events"]:
        assert event["resource_ids"], event
        onset = datetime.fromisoformat(event["onset"].replace("Z", "+00:00"))
        if event["cause"] in ("deployment_correlation", "latent_code_change"):
            deployment = deployments[event["deployment_id"]]
            deployed = datetime.fromisoformat(deployment["deployed_at"].replace("Z", "+00:00"))
            assert deployment["environment"] == "production"
            if event["cause"] == "deployment_correlation":
                # Inside the onset hour or shortly before it: hourly billing cannot resolve minutes.
                assert timedelta(0) <= onset + timedelta(hours=1) - deployed <= timedelta(hours=2), event
            else:
                assert timedelta(days=1) <= onset - deployed <= timedelta(days=7), event
            outcome = "deployment_found" if deployment["repository"] in registered else "no_repository_map"
            assert event["expected_outcome"] == outcome
        else:
            assert event["deployment_id"] is None
    assert any(e["expected_outcome"] == "no_repository_map" for e in truth["events"])
    assert truth["unregistered_teams"] == ["growth"] and ",growth," not in registered


def test_most_deployments_are_harmless_and_some_land_right_before_other_causes(truth, sample):
    deployments = [json.loads(line) for line in (sample / "deployments" / "deployments.jsonl").read_text().splitlines()]
    causal = {e["deployment_id"] for e in truth["events"] if e["deployment_id"]}
    assert len(causal) / len(deployments) < 0.1
    decoys = 0
    for event in truth["events"]:
        if event["deployment_id"] or event["team"] is None:
            continue
        onset = datetime.fromisoformat(event["onset"].replace("Z", "+00:00"))
        decoys += any(timedelta(0) < onset - datetime.fromisoformat(d["deployed_at"].replace("Z", "+00:00"))
                      <= timedelta(hours=3) and d["environment"] == "production" for d in deployments)
    assert decoys >= 3  # the trap a time-window-only correlator falls into


def test_every_event_moves_its_resources_cost(truth, bill):
    for event in truth["events"]:
        onset = event["onset"]
        for resource_id in event["resource_ids"]:
            # A gradual cause (a query slowing as its table grows, traffic ramping up) needs a few days.
            horizon = 4 if event["cause"] in ("latent_code_change", "traffic_growth") else 2
            after = bill.execute("select max(cost) from daily where resource_id = ? and day between ? and ?",
                                 [resource_id, day(onset), day(onset, horizon)]).fetchall()[0][0]
            # Same weekdays a week earlier: weekly rhythm is not an event.
            before = mean_cost(bill, resource_id, day(onset, -7), day(onset, -5))
            assert after > 1.3 * before, (event["cause"], resource_id, before, after)


def test_events_carry_the_evidence_their_cause_leaves_in_the_bill(truth, bill, sample):
    by_cause = {}
    for event in truth["events"]:
        by_cause.setdefault(event["cause"], event)

    def state(cause: str, offset: int):
        event = by_cause[cause]
        return bill.execute("select unit_price, quantity, sku_price, committed from daily "
                            "where resource_id = ? and day = ?", [event["resource_ids"][0],
                                                                  day(event["onset"], offset)]).fetchall()[0]

    assert state("ri_expiry", -1)[3] and not state("ri_expiry", 1)[3]
    assert state("third_party_pricing", 1)[0] > 1.3 * state("third_party_pricing", -1)[0]
    tier_before, tier_after = state("data_tier_threshold", -1), state("data_tier_threshold", 1)
    assert tier_after[2] != tier_before[2] and tier_after[1] == pytest.approx(tier_before[1], rel=0.1)
    drift_before, drift_after = state("infrastructure_drift", -1), state("infrastructure_drift", 1)
    assert drift_after[2] != drift_before[2]
    # Leaked keys: spend in a region the account never used.
    security = by_cause["security_incident"]
    regions = bill.execute("select distinct RegionId from bill where ResourceId = ?",
                           [security["resource_ids"][0]]).fetchall()
    earlier = bill.execute("select count(*) from bill where RegionId = ? and ChargePeriodStart < ?::timestamptz",
                           [regions[0][0], security["onset"]]).fetchall()[0][0]
    assert earlier == 0
    # Traffic growth shows in traffic.csv, not only in cost.
    traffic = duckdb.sql(f"select date, requests from read_csv('{sample / 'traffic.csv'}') "
                         f"where team = '{by_cause['traffic_growth']['team']}' order by date").fetchall()
    onset_day = datetime.fromisoformat(by_cause["traffic_growth"]["onset"].replace("Z", "+00:00")).date()
    week_before = dict(traffic)[onset_day - timedelta(days=7)]
    assert max(r for d, r in traffic if onset_day < d <= onset_day + timedelta(days=3)) > 1.5 * week_before


def test_run_on_a_generated_folder_quarantines_exactly_the_broken_rows(generated_run):
    sample, warehouse = generated_run  # the session's run of another seed's folder (conftest.py)
    truth = json.loads((sample / "ground_truth.json").read_text())
    conn = duckdb.connect(str(warehouse), read_only=True)
    quarantined = conn.sql("select split_part(source_file, '/', -1), row_number, split_part(reason, ':', 1) "
                           "from billing_quarantine order by 2").fetchall()
    assert quarantined == [(q["file"].split("/")[-1], q["row_number"], q["rule"]) for q in truth["expected_quarantine"]]
    teams = {r[0] for r in conn.sql("select distinct team from billing_rollup").fetchall()}
    assert {"checkout", "search", "ml-platform", "platform", "analytics", "ingestion", "growth", "unallocated"} == teams
    assert conn.sql("select count(*) from deployment_events").fetchall()[0][0] == len(
        (sample / "deployments" / "deployments.jsonl").read_text().splitlines()) - 1


@pytest.mark.parametrize("args, message", [(["--days", "5"], "--days must be at least 14"),
                                           (["--resources", "3"], "--resources must be at least 24")])
def test_cli_refuses_too_small_a_sample_with_a_reason(tmp_path, capsys, args, message):
    assert main(["generate-sample", "--out", str(tmp_path), "--seed", "1", *args]) == 2
    assert message in capsys.readouterr().err


def test_start_moves_the_calendar(tmp_path):
    assert main(["generate-sample", "--out", str(tmp_path), "--seed", "2", "--days", "20", "--resources", "24",
                 "--start", "2025-03-03"]) == 0
    assert [p.name for p in (tmp_path / "billing").iterdir()] == ["focus_2025-03.parquet"]
    assert json.loads((tmp_path / "ground_truth.json").read_text())["start"] == "2025-03-03"


def test_evaluate_refuses_a_folder_without_ground_truth(tmp_path, capsys):
    assert main(["evaluate", "--data-dir", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    assert "ground_truth.json not found" in capsys.readouterr().err
