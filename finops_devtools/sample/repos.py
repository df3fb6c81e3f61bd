"""Small service repositories for the sample, with the commits behind its deployments.

Every deployment in a generated folder is a real commit: harmless ones change docs, logs or tests;
the ones behind deployment-caused events make one of seed 000's tractable code changes in the
repository's own language (Python, Go, TypeScript, Kubernetes YAML). Histories are written with
`git fast-import` using fixed identities and dates, so the same plan gives the same commit SHAs, and
stored as git bundles (`repos/<org>/<name>.bundle`) because a repository cannot be committed inside
another; the built-in code host clones a bundle on first use.
"""

import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

AUTHOR = "Acme Engineering <eng@acme.example>"

# Repository -> language of its service code.
LANGUAGES = {
    "acme/checkout-service": "python", "acme/search-api": "python", "acme/recommender": "python",
    "acme/analytics-etl": "python", "acme/ingest-pipeline": "go", "acme/growth-site": "typescript",
    "acme/platform-infra": "terraform",
}

HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: 2
  maxReplicas: {max_replicas}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""

PYTHON_FILES = {
    "app/handlers.py": '''"""Request handlers."""

import boto3

from app.config import TABLE_NAME

dynamodb = boto3.client("dynamodb")


def load_items(item_ids):
    """Fetch every item of an order."""
    items = []
    for item_id in item_ids:
        response = dynamodb.get_item(TableName=TABLE_NAME, Key={"id": {"S": item_id}})
        items.append(response.get("Item"))
    return items
''',
    "app/catalog.py": '''"""Product catalog lookups."""

from functools import lru_cache

from app.db import fetch_product


@lru_cache(maxsize=10_000)
def product_details(product_id):
    return fetch_product(product_id)
''',
    "app/summarizer.py": '''"""Summaries of customer conversations."""

import anthropic

MODEL_ID = "claude-haiku-4-5"
client = anthropic.Anthropic()


def summarize(text):
    message = client.messages.create(model=MODEL_ID, max_tokens=300,
                                     messages=[{"role": "user", "content": text}])
    return message.content[0].text
''',
    "app/reports.py": '''"""Report queries."""

from app.db import run_query


def orders_by_status(status):
    return run_query("SELECT id, total FROM orders WHERE status = %s", (status,))
''',
    "app/config.py": 'TABLE_NAME = "orders"\nLOG_LEVEL = "INFO"\n',
    "migrations/001_orders.sql": "CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, total NUMERIC);\n"
                                 "CREATE INDEX orders_status_idx ON orders (status);\n",
    "tests/test_handlers.py": "def test_placeholder():\n    assert True\n",
}

GO_FILES = {
    "worker/worker.go": '''package worker

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Process stores every record of a batch.
func Process(ctx context.Context, records []string) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	client := dynamodb.NewFromConfig(cfg)
	for _, record := range records {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String("events"),
			Item:      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: record}},
		})
		if err != nil {
			return err
		}
	}
	return nil
}
''',
    "worker/lookup.go": '''package worker

import "sync"

var cache sync.Map

// Schema returns the schema of a source, cached.
func Schema(source string) string {
	if cached, ok := cache.Load(source); ok {
		return cached.(string)
	}
	schema := fetchSchema(source)
	cache.Store(source, schema)
	return schema
}

func fetchSchema(source string) string { return "schema:" + source }
''',
    "worker/config.go": 'package worker\n\nconst LogLevel = "info"\n',
}

TS_FILES = {
    "src/api.ts": '''import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";

const client = new DynamoDBClient({});

export async function loadPages(ids: string[]) {
  const pages = [];
  for (const id of ids) {
    pages.push(await client.send(new GetItemCommand({ TableName: "pages", Key: { id: { S: id } } })));
  }
  return pages;
}
''',
    "src/config.ts": 'export const LOG_LEVEL = "info";\n',
}

TERRAFORM_FILES = {
    "modules/asg/main.tf": '''resource "aws_autoscaling_group" "web" {
  name             = var.name
  min_size         = 2
  max_size         = 10
  desired_capacity = 2
  launch_template {
    id      = var.launch_template_id
    version = "$Latest"
  }
}
''',
    "modules/asg/variables.tf": 'variable "name" {}\nvariable "launch_template_id" {}\n',
}

COMMON_FILES = {
    ".gitignore": ".env\n*.pem\n*.tfstate\nconfig/local_overrides.yaml\n",
    "README.md": "# {name}\n\nOwned by the {team} team.\n",
    "CHANGELOG.md": "# Changelog\n",
}


def _change(files: dict[str, str], path: str, old: str, new: str) -> None:
    if old not in files[path]:
        raise ValueError(f"template for {path} lacks {old!r}")
    files[path] = files[path].replace(old, new, 1)


def apply_pattern(files: dict[str, str], language: str, pattern: str) -> str:
    """Make the code change behind a deployment-caused event; returns the file it changes."""
    if pattern == "autoscaler_limit_raised":
        path = "modules/asg/main.tf" if language == "terraform" else "deploy/hpa.yaml"
        old, new = ("max_size         = 10", "max_size         = 60") if language == "terraform" \
            else ("maxReplicas: 10", "maxReplicas: 60")
        _change(files, path, old, new)
        return path
    if language == "python":
        if pattern == "sdk_client_in_loop":
            _change(files, "app/handlers.py", 'dynamodb = boto3.client("dynamodb")\n\n\n', "")
            _change(files, "app/handlers.py", "    for item_id in item_ids:\n",
                    '    for item_id in item_ids:\n        dynamodb = boto3.client("dynamodb")  # per item: tenant isolation\n')
            return "app/handlers.py"
        if pattern == "cache_removed":
            _change(files, "app/catalog.py", "@lru_cache(maxsize=10_000)\n", "")
            _change(files, "app/catalog.py", "from functools import lru_cache\n\n", "")
            return "app/catalog.py"
        if pattern == "model_id_changed":
            _change(files, "app/summarizer.py", 'MODEL_ID = "claude-haiku-4-5"', 'MODEL_ID = "claude-opus-4-1"')
            return "app/summarizer.py"
        if pattern == "query_without_index":
            files["app/reports.py"] += ('\n\ndef orders_by_customer(customer_id):\n'
                                        '    return run_query("SELECT id, total FROM orders WHERE customer_id = %s", '
                                        '(customer_id,))\n')
            return "app/reports.py"
    if language == "go":
        if pattern == "sdk_client_in_loop":
            _change(files, "worker/worker.go", "\tclient := dynamodb.NewFromConfig(cfg)\n\tfor _, record := range records {\n",
                    "\tfor _, record := range records {\n\t\tclient := dynamodb.NewFromConfig(cfg)\n")
            return "worker/worker.go"
        if pattern == "cache_removed":
            _change(files, "worker/lookup.go", "\tif cached, ok := cache.Load(source); ok {\n\t\treturn cached.(string)\n\t}\n", "")
            return "worker/lookup.go"
    if language == "typescript" and pattern == "sdk_client_in_loop":
        _change(files, "src/api.ts", "const client = new DynamoDBClient({});\n\n", "")
        _change(files, "src/api.ts", "  for (const id of ids) {\n",
                "  for (const id of ids) {\n    const client = new DynamoDBClient({});\n")
        return "src/api.ts"
    raise ValueError(f"no {pattern} change for a {language} repository")


def supports(language: str, pattern: str) -> bool:
    try:
        apply_pattern(initial_files(language, "x", "x"), language, pattern)
        return True
    except ValueError:
        return False


def initial_files(language: str, name: str, team: str) -> dict[str, str]:
    files = {path: text.format(name=name, team=team) for path, text in COMMON_FILES.items()}
    files.update({"python": PYTHON_FILES, "go": GO_FILES, "typescript": TS_FILES,
                  "terraform": TERRAFORM_FILES}[language])
    if language != "terraform":
        files["deploy/hpa.yaml"] = HPA.format(name=name, max_replicas=10)
    return dict(sorted(files.items()))


# Harmless changes, by commit message: docs, logs, tests, config that does not touch cost.
def apply_harmless(files: dict[str, str], language: str, message: str, number: int) -> None:
    if "log level" in message.lower():
        path = {"python": "app/config.py", "go": "worker/config.go", "typescript": "src/config.ts"}.get(language)
        if path:
            files[path] = files[path].replace("INFO", "WARNING").replace('"info"', '"warn"') \
                if number % 2 else files[path].replace("WARNING", "INFO").replace('"warn"', '"info"')
            return
    if "test" in message.lower() and language == "python":
        files["tests/test_handlers.py"] += f"\n\ndef test_case_{number}():\n    assert {number} == {number}\n"
        return
    files["CHANGELOG.md"] += f"- {message} (#{number})\n"


@dataclass
class PlannedCommit:
    repository: str
    at: datetime
    message: str
    pattern: str | None = None                  # a tractable cause, or None for a harmless change
    reverts: "PlannedCommit | None" = None      # the commit this one undoes
    sha: str = ""
    changed_file: str | None = None


def write_repositories(out: Path, plans: dict[str, list[PlannedCommit]], teams: dict[str, str]) -> None:
    """Write one bundle per repository under out/repos/<org>/<name>.bundle; fills each planned
    commit's sha."""
    for repository, commits in sorted(plans.items()):
        commits.sort(key=lambda c: c.at)
        stream = _fast_import_stream(repository, teams.get(repository, "unknown"), commits)
        with tempfile.TemporaryDirectory() as folder:
            repo = Path(folder) / "repo.git"
            subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repo)], check=True)
            subprocess.run(["git", "fast-import", "--quiet", "--export-marks=" + str(Path(folder) / "marks")],
                           input=stream, cwd=repo, check=True, capture_output=True)
            marks = dict(line.split() for line in (Path(folder) / "marks").read_text().splitlines())
            for index, commit in enumerate(commits):
                commit.sha = marks[f":{index + 2}"]  # :1 is the initial commit
            bundle = out / "repos" / f"{repository}.bundle"
            bundle.parent.mkdir(parents=True, exist_ok=True)
            # One pack thread: the same objects then give the same bundle bytes.
            subprocess.run(["git", "-c", "pack.threads=1", "bundle", "create", "--quiet", str(bundle.resolve()),
                            "HEAD", "main"], cwd=repo, check=True, capture_output=True)


def _fast_import_stream(repository: str, team: str, commits: list[PlannedCommit]) -> bytes:
    """A git fast-import stream: every commit on main with its whole tree (deleteall + inline files)."""
    language = LANGUAGES[repository]
    name = repository.split("/")[1]
    files = initial_files(language, name, team)
    chunks = []
    for mark_number, (message, when, tree) in enumerate(_trees(files, language, commits), start=1):
        stamp = f"{int(when.timestamp())} +0000"
        body = message.encode()
        chunk = [f"commit refs/heads/main\nmark :{mark_number}\nauthor {AUTHOR} {stamp}\ncommitter {AUTHOR} {stamp}\n"
                 f"data {len(body)}\n".encode() + body + b"\n"]
        if mark_number > 1:
            chunk.append(f"from :{mark_number - 1}\n".encode())
        chunk.append(b"deleteall\n")
        for path, text in sorted(tree.items()):
            data = text.encode()
            chunk.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        chunks.extend(chunk)
    return b"".join(chunks)


def _trees(files: dict[str, str], language: str, commits: list[PlannedCommit]):
    """(message, time, tree) of the initial commit and of every planned commit, in order."""
    first = commits[0].at.replace(hour=8, minute=0, second=0) if commits else datetime(2026, 1, 1)
    yield "Initial commit", first, dict(files)
    before: dict[int, dict[str, str]] = {}
    for number, commit in enumerate(commits, start=1):
        before[id(commit)] = dict(files)
        if commit.reverts is not None:
            # A revert restores the file that commit changed, leaving later unrelated changes alone.
            path = commit.reverts.changed_file
            files[path] = before[id(commit.reverts)][path]
        elif commit.pattern:
            commit.changed_file = apply_pattern(files, language, commit.pattern)
        else:
            apply_harmless(files, language, commit.message, number)
        yield commit.message, commit.at, dict(files)
