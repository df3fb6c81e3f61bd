import json
import os
import shutil
from pathlib import Path

import pytest

# Set once for the whole session, before the code location is first imported (so no test leaks it
# into another): runs of `finops-assets run` stay in memory instead of the project's .dagster_home
# (the developer's UI instance), and the daily partitions start on a fixed day instead of where the
# checkout's data/ starts (the tests' bills are from 2024). Tests of those defaults unset them.
os.environ.setdefault("FINOPS_EPHEMERAL_INSTANCE", "1")
os.environ.setdefault("FINOPS_PARTITION_START", "2020-01-01")

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/focus-sample-data/FOCUS-1.0/focus_sample.csv"
FIXTURES = Path(__file__).parent / "fixtures"


def official_sample() -> Path:
    """The FinOps Foundation's 1,000-row FOCUS 1.0 sample (copied into fixtures/, see SOURCES.md)."""
    copied = FIXTURES / "focus_sample.csv"
    return copied if copied.exists() else SHARED_SAMPLE


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A small data folder in the input contract: the official sample bill plus every side input,
    each with one bad row."""
    root = tmp_path / "data"
    (root / "billing").mkdir(parents=True)
    shutil.copy(official_sample(), root / "billing" / "focus_sample.csv")
    (root / "deployments").mkdir()
    events = [
        {"id": "dep-1", "deployed_at": "2024-09-18T21:40:00Z", "service_name": "checkout", "environment": "production",
         "commit_sha": "a" * 40, "commit_message": "cache tweak", "branch": "main", "repository": "acme/checkout",
         "ci_system": "github_actions", "triggered_by": "alice", "pipeline_url": "https://ci.example/1"},
    ]
    lines = [json.dumps(e) for e in events] + [json.dumps(events[0]), "{not json", json.dumps({"id": "dep-2"})]
    (root / "deployments" / "events.jsonl").write_text("\n".join(lines) + "\n")
    (root / "team_repositories.csv").write_text(
        "department,team,repository,primary_repo\nretail,checkout,acme/checkout,true\nretail,search,not-a-repo,true\n")
    (root / "traffic.csv").write_text(
        "date,department,team,requests\n2024-09-01,retail,checkout,1000\n2024-09-02,retail,checkout,-5\n")
    return root


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "finops.duckdb"


GENERATED_RUN = {"seed": 5, "days": 45, "resources": 30}


@pytest.fixture(scope="session")
def _generated_run_once(tmp_path_factory) -> Path:
    """A generated folder run through the whole graph once per session (the run is the slow part).
    Never handed out: tests get a copy, so one test's writes cannot reach another's."""
    from finops_assets.cli import main
    from finops_devtools.sample.generator import generate_sample

    root = tmp_path_factory.mktemp("generated_run")
    generate_sample(root / "data", **GENERATED_RUN)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("FINOPS_DATA_DIR", "FINOPS_WAREHOUSE", "DAGSTER_HOME", "ANTHROPIC_API_KEY", "GITHUB_TOKEN",
                     "FINOPS_PR_APPROVERS"):
            mp.delenv(name, raising=False)
        assert main(["run", "--data-dir", str(root / "data"), "--warehouse",
                     str(root / "warehouse" / "finops.duckdb")]) == 0
    return root


def copy_generated_run(template: Path, into: Path) -> tuple[Path, Path]:
    """(data folder, published warehouse) of a private copy of the session's generated run."""
    shutil.copytree(template, into, symlinks=True)
    return into / "data", into / "warehouse" / "finops.duckdb"


@pytest.fixture(scope="module")
def generated_run(_generated_run_once, tmp_path_factory) -> tuple[Path, Path]:
    """The session's generated run, copied for this module: (data folder, published warehouse)."""
    return copy_generated_run(_generated_run_once, tmp_path_factory.mktemp("generated_run_copy") / "run")
