"""A synthetic, realistic data folder in the input contract, with the truth about what is in it.

The bill is hourly FOCUS 1.2 from one AWS payer account: compute fleets that follow their team's
traffic, serverless databases, request-priced tables and functions, storage that grows, egress,
a model API, a marketplace SaaS line billed by another publisher, reserved capacity with its monthly
purchase fee, credits and taxes. On top of normal noise the generator injects cost events of every
cause in DESIGN.md section 4 and writes them to `ground_truth.json`, with onset hour, resources and,
where one exists, the causing deployment. Most deployments are harmless, and some harmless ones
land right before events they did not cause (the trap the seed's correlator falls into).

Deterministic: the same seed, days, resources and start give byte-identical files.
"""

import gzip
import io
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from finops_devtools.sample.repos import (
    LANGUAGES,
    PlannedCommit,
    supports,
    write_repositories,
)

# A fixed start keeps samples identical whatever day they are made; 60 to 150 days end in the past.
DEFAULT_START = date(2026, 6, 1)
MIN_RESOURCES = 24
HOURS_PER_MONTH = 730.0

PAYER = ("999999999999", "acme-payer")
PROVIDER = "Amazon Web Services"
HOME_REGION = "us-east-1"
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)",
                "ap-southeast-1": "Asia Pacific (Singapore)", "sa-east-1": "South America (Sao Paulo)",
                "ap-northeast-3": "Asia Pacific (Osaka)"}
UNUSED_REGIONS = ("ap-southeast-1", "sa-east-1", "ap-northeast-3")


@dataclass(frozen=True)
class Team:
    department: str
    name: str
    service: str                 # the service its resources serve (the ServiceName of the app)
    repository: str | None       # org/name of its main repository
    registered: bool             # listed in team_repositories.csv
    sub_account: tuple[str, str]
    traffic_base: int            # requests per day


TEAMS: tuple[Team, ...] = (
    Team("engineering", "checkout", "checkout-api", "acme/checkout-service", True, ("111111111111", "acme-prod"), 9_000_000),
    Team("engineering", "search", "search-api", "acme/search-api", True, ("111111111111", "acme-prod"), 14_000_000),
    Team("engineering", "ml-platform", "recommender", "acme/recommender", True, ("111111111111", "acme-prod"), 4_000_000),
    Team("engineering", "platform", "platform", "acme/platform-infra", True, ("111111111111", "acme-prod"), 2_000_000),
    Team("data", "analytics", "analytics-etl", "acme/analytics-etl", True, ("222222222222", "acme-data"), 1_500_000),
    Team("data", "ingestion", "ingest-pipeline", "acme/ingest-pipeline", True, ("222222222222", "acme-data"), 6_000_000),
    Team("marketing", "growth", "growth-site", "acme/growth-site", False, ("333333333333", "acme-marketing"), 3_000_000),
)
TEAM_BY_NAME = {t.name: t for t in TEAMS}
# Repositories a team deploys besides its own (the platform repo holds everyone's autoscaling config).
EXTRA_REPOSITORIES = {"checkout": ("acme/platform-infra",)}


@dataclass(frozen=True)
class Kind:
    """A kind of billed resource: where it sits in the bill and how its usage moves."""
    service_name: str
    service_category: str
    resource_type: str
    sku: str
    unit: str
    unit_price: float            # list price per unit
    base: tuple[float, float]    # quantity per hour, drawn uniformly
    traffic_elasticity: float    # 1 = moves with the team's traffic, 0 = flat
    diurnal: float               # amplitude of the day/night swing
    discount: float = 0.0        # negotiated discount (ContractedCost below ListCost)


KINDS: dict[str, Kind] = {
    "compute": Kind("Amazon Elastic Compute Cloud", "Compute", "Auto Scaling Group", "m6i.xlarge", "Hours",
                    0.192, (8, 30), 1.0, 0.35, discount=0.05),
    "reserved_compute": Kind("Amazon Elastic Compute Cloud", "Compute", "Auto Scaling Group", "r6i.2xlarge", "Hours",
                             0.504, (6, 12), 0.0, 0.0, discount=0.05),
    "database": Kind("Amazon Aurora", "Databases", "Serverless v2 Cluster", "Aurora:ServerlessV2Usage", "ACU-Hr",
                     0.12, (16, 64), 0.3, 0.15),
    "table": Kind("Amazon DynamoDB", "Databases", "Table", "ReadRequestUnits", "Million Read Request Units",
                  0.25, (10, 40), 1.0, 0.3),
    "function": Kind("AWS Lambda", "Compute", "Function", "Lambda-GB-Second", "GB-Seconds",
                     0.0000166667, (150_000, 600_000), 1.0, 0.35),
    "storage": Kind("Amazon Simple Storage Service", "Storage", "Bucket", "TimedStorage-ByteHrs", "GB-Mo",
                    0.023, (40_000 / HOURS_PER_MONTH, 160_000 / HOURS_PER_MONTH), 0.0, 0.0),
    "egress": Kind("AWS Data Transfer", "Networking", "Data Transfer", "DataTransfer-Out-Bytes", "GB",
                   0.09, (6, 30), 1.0, 0.3),
    "model_api": Kind("Amazon Bedrock", "AI and Machine Learning", "Model Invocation", "claude-haiku-input-tokens",
                      "1K Tokens", 0.0008, (1_000, 4_000), 1.0, 0.3),
    "marketplace": Kind("Datadog Pro", "Management and Governance", "SaaS Subscription", "datadog-pro-host-hour",
                        "Host-Hours", 0.031, (60, 140), 0.0, 0.0),
}
# Resources every sample has (team, kind): the events below need them. More resources cycle EXTRA_KINDS.
CORE_RESOURCES: tuple[tuple[str, str], ...] = (
    ("checkout", "compute"), ("checkout", "table"), ("checkout", "function"), ("checkout", "egress"),
    ("search", "reserved_compute"), ("search", "database"), ("search", "storage"),
    ("ml-platform", "compute"), ("ml-platform", "model_api"), ("ml-platform", "storage"),
    ("platform", "marketplace"), ("platform", "reserved_compute"), ("platform", "storage"),
    ("analytics", "compute"), ("analytics", "database"), ("analytics", "storage"),
    ("ingestion", "function"), ("ingestion", "egress"), ("ingestion", "storage"), ("ingestion", "table"),
    ("growth", "compute"), ("growth", "function"), ("growth", "egress"), ("growth", "database"),
)
TRAFFIC_EVENT_TEAMS = ("checkout", "ingestion")
EXTRA_KINDS = ("compute", "function", "database", "storage", "table", "egress", "compute", "model_api")
TEAM_ROLES = {"compute": "web", "reserved_compute": "core", "database": "db", "table": "table", "function": "worker",
              "storage": "data", "egress": "egress", "model_api": "llm", "marketplace": "observability"}

HARMLESS_COMMITS = (
    "Bump dependency versions", "Fix typo in error message", "Add unit tests for order totals",
    "Refactor request logging", "Update translations", "Add feature flag for new onboarding flow",
    "Tidy up config loading", "Improve retry message", "Upgrade base image", "Rename internal metric",
    "Document the health endpoint", "Remove dead code in exporter", "Tune log levels",
)
ENGINEERS = ("alice", "bob", "carol", "dmitri", "eve", "farah", "gus", "hiro", "ines", "jamal")
CI_SYSTEMS = ("github_actions", "argocd", "circleci")


@dataclass
class Resource:
    resource_id: str
    name: str
    team: Team
    kind_name: str
    region: str
    base: float                  # quantity per hour at traffic factor 1
    growth_per_day: float = 0.0  # storage grows
    tags: dict = field(default_factory=dict)
    # Per-hour series, filled in by the generator, then changed by events.
    quantity: list[float] = field(default_factory=list)
    unit_price: list[float] = field(default_factory=list)
    sku: list[str] = field(default_factory=list)
    committed: list[bool] = field(default_factory=list)
    first_hour: int = 0          # resources created by an event start later
    last_hour: int | None = None

    @property
    def kind(self) -> Kind:
        return KINDS[self.kind_name]


@dataclass
class SampleSummary:
    out: Path
    seed: int
    days: int
    resources: int
    bill_rows: int
    bill_files: list[str]
    deployments: int
    events: dict[str, int]

    def __str__(self) -> str:
        causes = ", ".join(f"{cause} {n}" for cause, n in sorted(self.events.items()))
        return (f"wrote {self.out}: {self.bill_rows:,} bill rows in {len(self.bill_files)} files "
                f"({', '.join(self.bill_files)}), {self.resources} resources over {self.days} days, "
                f"{self.deployments} deployments; injected events: {causes}")


class _Generator:
    def __init__(self, seed: int, days: int, resources: int, start: date):
        if days < 14:
            raise ValueError(f"--days must be at least 14 (got {days}): events need history before them")
        if resources < MIN_RESOURCES:
            raise ValueError(f"--resources must be at least {MIN_RESOURCES} (got {resources}): one per core role")
        self.rng = random.Random(seed)
        self.seed, self.days, self.n_resources, self.start = seed, days, resources, start
        self.hours = days * 24
        self.t0 = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
        self.resources: list[Resource] = []
        self.deployments: list[dict] = []
        self.events: list[dict] = []
        self.used: set[str] = set()          # resources an event already owns
        self.busy_teams: dict[str, list[tuple[int, int]]] = {}
        self.traffic = self._traffic()
        self.commitments: dict[str, dict] = {}
        self.commits: dict[str, PlannedCommit] = {}  # deployment id -> the commit it ships

    # ---- the normal world -------------------------------------------------------------------
    def _traffic(self) -> dict[str, list[float]]:
        """Per team and day, traffic relative to its base: weekly rhythm, slow trend, noise."""
        factors = {}
        for team in TEAMS:
            trend = self.rng.uniform(0.0, 0.003)
            factors[team.name] = [
                (0.72 if (self.start + timedelta(d)).weekday() >= 5 else 1.0) * (1 + trend) ** d
                * self.rng.gauss(1.0, 0.025)
                for d in range(self.days)]
        return factors

    def _resource_id(self, team: Team, kind_name: str, name: str, region: str) -> str:
        account = team.sub_account[0]
        prefix = {"compute": f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:",
                  "reserved_compute": f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:",
                  "database": f"arn:aws:rds:{region}:{account}:cluster:",
                  "table": f"arn:aws:dynamodb:{region}:{account}:table/",
                  "function": f"arn:aws:lambda:{region}:{account}:function:",
                  "storage": "arn:aws:s3:::",
                  "egress": f"arn:aws:ec2:{region}:{account}:natgateway/",
                  "model_api": f"arn:aws:bedrock:{region}:{account}:inference-profile/",
                  "marketplace": "arn:aws:marketplace:::product/"}[kind_name]
        return prefix + name

    def _tags(self, team: Team, index: int) -> dict:
        # Real tagging is inconsistent: key case, provider prefixes; a few resources carry no owner.
        style = index % 9
        if style == 4:
            return {"Department": team.department, "Team": team.name, "env": "prod"}
        if style == 7:
            return {"user:department": team.department, "user:team": team.name}
        if style == 8 and index >= len(CORE_RESOURCES):
            return {"env": "prod"}  # untagged: lands in `unallocated`
        return {"department": team.department, "team": team.name, "env": "prod", "service": team.service}

    def build_resources(self) -> None:
        plan = list(CORE_RESOURCES)
        i = 0
        while len(plan) < self.n_resources:
            team = TEAMS[i % len(TEAMS)]
            plan.append((team.name, EXTRA_KINDS[(i // len(TEAMS)) % len(EXTRA_KINDS)]))
            i += 1
        counts: dict[tuple[str, str], int] = {}
        for index, (team_name, kind_name) in enumerate(plan):
            team = TEAM_BY_NAME[team_name]
            n = counts[(team_name, kind_name)] = counts.get((team_name, kind_name), 0) + 1
            name = f"{team.name}-{TEAM_ROLES[kind_name]}-{n:02d}"
            kind = KINDS[kind_name]
            resource = Resource(
                resource_id=self._resource_id(team, kind_name, name, HOME_REGION), name=name, team=team,
                kind_name=kind_name, region=HOME_REGION, base=self.rng.uniform(*kind.base),
                growth_per_day=self.rng.uniform(0.004, 0.012) if kind_name == "storage" else 0.0,
                tags=self._tags(team, index) if kind_name != "marketplace" else
                {"department": team.department, "team": team.name})
            self._fill_normal(resource)
            self.resources.append(resource)

    def _fill_normal(self, r: Resource) -> None:
        kind = r.kind
        daily_noise = [self.rng.gauss(1.0, 0.03) for _ in range(self.days)]
        phase = self.rng.uniform(13, 17)  # peak hour (UTC)
        for h in range(self.hours):
            day = h // 24
            traffic = self.traffic[r.team.name][day]
            diurnal = 1 + kind.diurnal * math.cos((h % 24 - phase) / 24 * 2 * math.pi)
            load = (1 - kind.traffic_elasticity) + kind.traffic_elasticity * traffic
            if r.kind_name == "storage":
                quantity = r.base * (1 + r.growth_per_day) ** (h / 24)
            elif r.kind_name in ("reserved_compute", "marketplace"):
                quantity = round(r.base)
            else:
                quantity = r.base * load * diurnal * daily_noise[day] * self.rng.gauss(1.0, 0.02)
                if r.kind_name == "compute":
                    quantity = max(1, round(quantity))  # whole instances
            r.quantity.append(max(quantity, 0.0))
            r.unit_price.append(kind.unit_price)
            r.sku.append(kind.sku)
            r.committed.append(r.kind_name == "reserved_compute")

    # ---- deployments ------------------------------------------------------------------------
    def _at(self, hour: float) -> datetime:
        return self.t0 + timedelta(hours=hour)

    def deploy(self, team: Team, at: datetime, message: str, repository: str | None = None,
               environment: str = "production", pattern: str | None = None, reverts: dict | None = None) -> dict:
        """A deployment of a new commit (made a few minutes earlier); its SHA is filled in when the
        repositories are written."""
        repository = repository or team.repository
        number = len(self.deployments) + 1
        ci = CI_SYSTEMS[self.rng.randrange(len(CI_SYSTEMS))]
        event = {
            "id": f"dep-{self.seed}-{number:05d}",
            "deployed_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service_name": repository.split("/")[1] if repository != team.repository else team.service,
            "environment": environment,
            "commit_sha": "",
            "commit_message": message,
            "branch": "main",
            "repository": repository,
            "ci_system": ci,
            "triggered_by": self.rng.choice(ENGINEERS),
            "pipeline_url": f"https://ci.acme.example/{ci}/{repository}/{number}",
        }
        self.deployments.append(event)
        self.commits[event["id"]] = PlannedCommit(
            repository=repository, at=at - timedelta(minutes=self.rng.randrange(3, 40)), message=message,
            pattern=pattern, reverts=self.commits[reverts["id"]] if reverts else None)
        return event

    def harmless_deployments(self) -> None:
        """Business-hours releases on weekdays, some to staging: the background every event hides in."""
        for day in range(self.days):
            if (self.start + timedelta(day)).weekday() >= 5:
                continue
            for team in TEAMS:
                for _ in range(self.rng.choice((0, 1, 1, 2))):
                    minute = self.rng.randrange(9 * 60, 18 * 60)
                    repository = team.repository
                    if team.name in EXTRA_REPOSITORIES and self.rng.random() < 0.3:
                        repository = self.rng.choice(EXTRA_REPOSITORIES[team.name])
                    environment = "staging" if self.rng.random() < 0.2 else "production"
                    self.deploy(team, self._at(day * 24 + minute / 60), self.rng.choice(HARMLESS_COMMITS),
                                repository, environment)

    # ---- events -----------------------------------------------------------------------------
    def _pick(self, kind_names: tuple[str, ...], registered: bool | None = None,
              pattern: str | None = None) -> Resource | None:
        """A resource no event owns yet, of one of these kinds, whose tags name its team (and whose
        team's repository language can carry `pattern`)."""
        candidates = [r for r in self.resources
                      if r.kind_name in kind_names and r.resource_id not in self.used and r.first_hour == 0
                      and _tagged_team(r.tags) and (registered is None or r.team.registered == registered)
                      and (pattern is None or supports(LANGUAGES[r.team.repository], pattern))]
        if not candidates:
            return None
        resource = self.rng.choice(candidates)
        self.used.add(resource.resource_id)
        return resource

    def _record(self, cause: str, pattern: str, onset_hour: int, end_hour: int | None, resources: list[Resource],
                description: str, deployment: dict | None = None, expected_outcome: str | None = None,
                team: Team | None | str = "owner", recurrences: list[int] | None = None) -> None:
        team = resources[0].team if team == "owner" else team  # None: nobody owns it (leaked keys)
        self.events.append({
            "event_id": f"evt-{len(self.events) + 1:03d}",
            "cause": cause,
            "pattern": pattern,
            "onset": self._at(onset_hour).strftime("%Y-%m-%dT%H:00:00Z"),
            "end": self._at(end_hour).strftime("%Y-%m-%dT%H:00:00Z") if end_hour is not None else None,
            "recurrences": [self._at(h).strftime("%Y-%m-%dT%H:00:00Z") for h in (recurrences or [])],
            "resource_ids": [r.resource_id for r in resources],
            "service_names": sorted({r.kind.service_name for r in resources}),
            "department": team.department if team else None,
            "team": team.name if team else None,
            "deployment_id": deployment["id"] if deployment else None,
            "commit_sha": deployment["commit_sha"] if deployment else None,
            "repository": deployment["repository"] if deployment else None,
            "expected_outcome": expected_outcome,
            "description": description,
        })

    def _decoy(self, team: Team, onset_hour: int) -> None:
        """A harmless production release of the same team shortly before an event it did not cause."""
        if team.repository is None or self.rng.random() < 0.25:
            return
        minutes_before = self.rng.randrange(15, 150)
        self.deploy(team, self._at(onset_hour) - timedelta(minutes=minutes_before), self.rng.choice(HARMLESS_COMMITS))

    def _scale(self, r: Resource, start: int, end: int | None, factor) -> None:
        for h in range(start, self.hours if end is None else min(end, self.hours)):
            r.quantity[h] *= factor(h - start) if callable(factor) else factor

    def _sharp_deployment_spike(self, r: Resource, onset_day: int, pattern: str, message: str,
                                repository: str | None = None, factor: float | None = None,
                                price_factor: float | None = None, new_sku: str | None = None) -> None:
        minute = self.rng.randrange(10 * 60, 17 * 60)
        deployed = self._at(onset_day * 24 + minute / 60)
        deployment = self.deploy(r.team, deployed, message, repository, pattern=pattern)
        # Hourly billing: the cost moves in the hour the new code starts serving (same or next hour).
        onset = onset_day * 24 + minute // 60 + (1 if minute % 60 >= 45 else 0)
        duration = self.rng.randrange(20, 44)  # reverted within two days
        end = onset + duration
        if factor:
            self._scale(r, onset, end, factor)
        for h in range(onset, min(end, self.hours)):
            if price_factor:
                r.unit_price[h] *= price_factor
            if new_sku:
                r.sku[h] = new_sku
        if end < self.hours:
            self.deploy(r.team, self._at(end) - timedelta(minutes=self.rng.randrange(5, 50)),
                        f"Revert \"{message}\"", repository, reverts=deployment)
        outcome = "deployment_found" if r.team.registered else "no_repository_map"
        self._record("deployment_correlation", pattern, onset, end if end < self.hours else None, [r],
                     f"{message} ({deployment['repository']}) made {r.name} cost jump until it was reverted",
                     deployment, outcome)

    def inject(self) -> None:
        warmup = min(21, self.days // 2)
        last = self.days - 3
        repeats = max(1, self.n_resources // 40)
        # The traffic event claims a whole team, so it chooses first.
        builders = [self._traffic_event, self._deployment_events, self._latent_event, self._drift_event,
                    self._scheduled_event, self._ri_expiry_event, self._tier_event, self._third_party_event,
                    self._security_event]
        jobs = [b for _ in range(repeats) for b in builders]
        # Spread onsets over the days after warm-up, one event per slot, in random order.
        slots = list(range(warmup, last))
        self.rng.shuffle(slots)
        for n, build in enumerate(jobs):
            build(slots[n % len(slots)])

    def _deployment_events(self, day: int) -> None:
        specs = [
            (("table",), "sdk_client_in_loop", "Create DynamoDB client per item for tenant isolation", 4.0, None, None),
            (("database",), "cache_removed", "Remove stale product cache decorator", 3.0, None, None),
            (("model_api",), "model_id_changed", "Switch summarizer to claude-opus for quality", None, 3.75,
             "claude-opus-input-tokens"),
            (("compute",), "autoscaler_limit_raised", "Raise HPA maxReplicas to 60 for launch", 2.8, None, None),
        ]
        for offset, (kinds, pattern, message, factor, price_factor, sku) in enumerate(specs):
            r = self._pick(kinds, registered=True, pattern=pattern)
            if r is None:
                continue
            # The autoscaler limit lives in the service's own deploy manifests, so its release is the service's.
            self._sharp_deployment_spike(r, min(day + 2 * offset, self.days - 3), pattern, message, None,
                                         factor, price_factor, sku)
        # The same kind of release in the team nobody registered: found only as `no_repository_map`.
        r = self._pick(("compute", "function"), registered=False, pattern="autoscaler_limit_raised")
        if r is not None:
            self._sharp_deployment_spike(r, max(day - 3, min(21, self.days // 2)), "autoscaler_limit_raised",
                                         "Raise worker concurrency for the spring sale", factor=3.0)

    def _latent_event(self, day: int) -> None:
        r = self._pick(("database",), registered=True, pattern="query_without_index")
        if r is None:
            return
        deployed_day = max(day - self.rng.randrange(2, 5), 1)
        deployment = self.deploy(r.team, self._at(deployed_day * 24 + self.rng.uniform(10, 17)),
                                 "Add report query filtering orders by customer_id", pattern="query_without_index")
        onset = day * 24 + self.rng.randrange(0, 24)
        # A query without an index gets slower as the table grows: cost climbs a little every hour.
        self._scale(r, onset, None, lambda dh: 1 + 0.06 * (dh / 24) ** 1.2 + 0.25 * min(dh / 24, 1))
        self._record("latent_code_change", "query_without_index", onset, None, [r],
                     f"a query without an index shipped {day - deployed_day} days earlier makes {r.name} "
                     "work harder as its table grows", deployment, "deployment_found")

    def _drift_event(self, day: int) -> None:
        r = self._pick(("compute",))
        if r is None:
            return
        onset = day * 24 + self.rng.randrange(8, 20)
        bigger = "m6i.2xlarge"
        for h in range(onset, self.hours):
            r.sku[h] = bigger
            r.unit_price[h] *= 2.0
        self._decoy(r.team, onset)
        self._record("infrastructure_drift", "instance_resized_by_hand", onset, None, [r],
                     f"{r.name} was resized from {KINDS['compute'].sku} to {bigger} in the console, no deployment")

    def _traffic_event(self, day: int) -> None:
        # Teams whose resources no other event needs alone (ml-platform holds the only model API).
        team = next((TEAM_BY_NAME[name] for name in self.rng.sample(TRAFFIC_EVENT_TEAMS, len(TRAFFIC_EVENT_TEAMS))
                     if not any(r.resource_id in self.used for r in self.resources if r.team.name == name)), None)
        if team is None:
            return
        followers = [r for r in self.resources if r.team is team and r.kind.traffic_elasticity > 0]
        for r in self.resources:
            if r.team is team:
                self.used.add(r.resource_id)
        onset_day = day
        surge = self.rng.uniform(1.8, 2.4)
        ramp = lambda dh: 1 + (surge - 1) * min(1.0, dh / 36)  # a campaign ramps up over a day and a half
        for d in range(onset_day, self.days):
            self.traffic[team.name][d] *= ramp((d - onset_day) * 24 + 12)
        onset = onset_day * 24 + 8
        for r in followers:
            self._scale(r, onset, None, lambda dh, e=r.kind.traffic_elasticity: 1 + e * (ramp(dh) - 1))
        self._decoy(team, onset)
        self._record("traffic_growth", "marketing_campaign", onset, None,
                     followers,
                     f"{team.name}'s requests grew {surge:.1f}x (a campaign); its fleet followed", team=team)

    def _scheduled_event(self, day: int) -> None:
        r = self._pick(("compute",))
        if r is None:
            return
        hour = self.rng.randrange(0, 5)
        starts = list(range(day * 24 + hour, self.hours, 7 * 24))
        for s in starts:
            self._scale(r, s, s + 5, 6.0)  # a new weekly batch job: five hours at six times the fleet
        self._decoy(r.team, starts[0])
        self._record("scheduled_job", "weekly_batch", starts[0], starts[0] + 5, [r],
                     f"a new weekly batch job runs on {r.name} every {(self.start + timedelta(day)).strftime('%A')} "
                     f"from {hour:02d}:00 UTC for five hours", recurrences=starts[1:])

    def _ri_expiry_event(self, day: int) -> None:
        r = self._pick(("reserved_compute",))
        if r is None:
            return
        onset = day * 24  # reservations end at midnight UTC
        for h in range(onset, self.hours):
            r.committed[h] = False
        self.commitments[r.resource_id] = {"ends_hour": onset}
        self._decoy(r.team, onset)
        self._record("ri_expiry", "reservation_expired", onset, None, [r],
                     f"the reserved instances covering {r.name} expired; it now runs at on-demand rates")

    def _tier_event(self, day: int) -> None:
        r = self._pick(("storage", "egress"))
        if r is None:
            return
        onset = day * 24
        for h in range(onset, self.hours):
            r.unit_price[h] *= 1.9
            r.sku[h] = r.kind.sku + ":tier-2"
        self._decoy(r.team, onset)
        self._record("data_tier_threshold", "next_price_tier", onset, None, [r],
                     f"{r.name} crossed its volume commitment; usage above it is billed at the next tier's price")

    def _third_party_event(self, day: int) -> None:
        r = self._pick(("marketplace",))
        if r is None:
            return
        onset = day * 24
        for h in range(onset, self.hours):
            r.unit_price[h] *= 1.6
        self._decoy(r.team, onset)
        self._record("third_party_pricing", "publisher_price_increase", onset, None, [r],
                     f"the marketplace publisher raised the price per host-hour of {r.kind.service_name} by 60%")

    def _security_event(self, day: int) -> None:
        team = TEAM_BY_NAME["checkout"]
        # Each incident in a region the account never used (a second one cannot reuse the first's).
        used = sum(1 for e in self.events if e["cause"] == "security_incident")
        region = UNUSED_REGIONS[used % len(UNUSED_REGIONS)]
        onset = day * 24 + self.rng.randrange(0, 6)
        end = onset + self.rng.randrange(30, 60)  # found and shut down after a day or two
        created = []
        for n, (kind_name, sku, price, qty) in enumerate(
                (("compute", "p3.8xlarge", 12.24, 8), ("egress", "DataTransfer-Out-Bytes", 0.12, 400))):
            kind = KINDS[kind_name]
            name = f"unknown-{kind_name}-{self.rng.getrandbits(24):06x}"
            r = Resource(resource_id=self._resource_id(team, kind_name, name, region), name=name, team=team,
                         kind_name=kind_name, region=region, base=qty, tags={}, first_hour=onset, last_hour=end)
            for h in range(self.hours):
                r.quantity.append(qty * self.rng.gauss(1.0, 0.05) if onset <= h < end else 0.0)
                r.unit_price.append(price)
                r.sku.append(sku)
                r.committed.append(False)
            self.resources.append(r)
            self.used.add(r.resource_id)
            created.append(r)
        self._record("security_incident", "leaked_credentials", onset, end, created,
                     "leaked access keys launched GPU instances and egress in a region the account never used",
                     team=None)
        # The security event lands in the checkout account; record that for whoever triages it.
        self.events[-1]["sub_account_id"] = team.sub_account[0]

    # ---- the bill ---------------------------------------------------------------------------
    def bill_rows(self) -> list[dict]:
        rows: list[dict] = []
        for r in self.resources:
            if r.kind_name == "marketplace":
                rows.extend(self._daily_rows(r))
                continue
            for h in range(self.hours):
                if r.quantity[h] <= 0 or h < r.first_hour or (r.last_hour is not None and h >= r.last_hour):
                    continue
                rows.append(self._usage_row(r, self._at(h), self._at(h + 1), r.quantity[h], r.unit_price[h],
                                            r.sku[h], r.committed[h]))
        rows.extend(self._monthly_rows(rows))
        return rows

    def _commitment(self, r: Resource) -> str:
        return f"arn:aws:ec2:{r.region}:{r.team.sub_account[0]}:reserved-instances/ri-{r.name}"

    def _usage_row(self, r: Resource, start: datetime, end: datetime, quantity: float, unit_price: float,
                   sku: str, committed: bool) -> dict:
        kind = r.kind
        list_cost = quantity * unit_price
        contracted_cost = list_cost * (1 - kind.discount)
        billed, effective = contracted_cost, contracted_cost
        if committed:
            billed, effective = 0.0, list_cost * 0.62  # paid by the monthly fee; amortized rate
        month_start = start.replace(day=1, hour=0)
        publisher = "Datadog, Inc." if r.kind_name == "marketplace" else PROVIDER
        return {
            "BillingAccountId": PAYER[0], "BillingAccountName": PAYER[1],
            "SubAccountId": r.team.sub_account[0], "SubAccountName": r.team.sub_account[1],
            "BillingCurrency": "USD",
            "BillingPeriodStart": month_start, "BillingPeriodEnd": _next_month(month_start),
            "ChargePeriodStart": start, "ChargePeriodEnd": end,
            "ChargeCategory": "Usage", "ChargeClass": None,
            "ChargeDescription": f"{kind.service_name} {sku} {kind.unit}",
            "ChargeFrequency": "Usage-Based",
            "BilledCost": round(billed, 10), "EffectiveCost": round(effective, 10),
            "ListCost": round(list_cost, 10), "ContractedCost": round(contracted_cost, 10),
            "ListUnitPrice": unit_price, "ContractedUnitPrice": unit_price * (1 - kind.discount),
            "ConsumedQuantity": round(quantity, 6), "ConsumedUnit": kind.unit,
            "PricingQuantity": round(quantity, 6), "PricingUnit": kind.unit,
            "PricingCategory": "Committed" if committed else "Standard",
            "CommitmentDiscountId": self._commitment(r) if committed else None,
            "CommitmentDiscountName": f"ri-{r.name}" if committed else None,
            "CommitmentDiscountCategory": "Usage" if committed else None,
            "CommitmentDiscountStatus": "Used" if committed else None,
            "CommitmentDiscountType": "Reserved Instance" if committed else None,
            "ProviderName": PROVIDER, "PublisherName": publisher, "InvoiceIssuerName": PROVIDER,
            "ServiceCategory": kind.service_category, "ServiceName": kind.service_name,
            "SkuId": sku, "SkuPriceId": f"{sku}:{unit_price:.8g}",
            "RegionId": r.region, "RegionName": REGION_NAMES[r.region],
            "AvailabilityZone": f"{r.region}a" if r.kind_name in ("compute", "reserved_compute") else None,
            "ResourceId": r.resource_id, "ResourceName": r.name, "ResourceType": kind.resource_type,
            "Tags": json.dumps(r.tags, sort_keys=True) if r.tags else None,
        }

    def _daily_rows(self, r: Resource) -> list[dict]:
        """Marketplace SaaS is metered per day, not per hour."""
        rows = []
        for day in range(self.days):
            hours = range(day * 24, day * 24 + 24)
            quantity = sum(r.quantity[h] for h in hours)
            price = r.unit_price[day * 24]
            rows.append(self._usage_row(r, self._at(day * 24), self._at(day * 24 + 24), quantity, price,
                                        r.sku[day * 24], False))
        return rows

    def _monthly_rows(self, usage: list[dict]) -> list[dict]:
        """Reservation fees (Purchase), a promotional credit and, for each finished month, sales tax."""
        rows = []
        months = sorted({row["BillingPeriodStart"] for row in usage})
        end_of_bill = self._at(self.hours)
        for month in months:
            month_end = min(_next_month(month), end_of_bill)
            for r in self.resources:
                if r.kind_name != "reserved_compute":
                    continue
                ends = self.commitments.get(r.resource_id, {}).get("ends_hour")
                covered_until = self._at(ends) if ends is not None else _next_month(month)
                hours = (min(covered_until, _next_month(month)) - month).total_seconds() / 3600
                if hours <= 0:
                    continue
                fee = round(r.base) * r.kind.unit_price * 0.62 * hours
                rows.append(self._other_row(r.team, month, _next_month(month), "Purchase", "Recurring", fee, 0.0,
                                            f"Reserved Instance fee, {round(r.base)} x {r.kind.sku}",
                                            resource_id=self._commitment(r), resource_name=f"ri-{r.name}",
                                            commitment=(self._commitment(r), f"ri-{r.name}")))
            rows.append(self._other_row(TEAM_BY_NAME["ml-platform"], month, month_end, "Credit", "One-Time",
                                        -250.0, -250.0, "AWS Activate promotional credit"))
            if _next_month(month) <= end_of_bill:
                for account in sorted({t.sub_account for t in TEAMS}):
                    billed = sum(row["BilledCost"] for row in usage + rows
                                 if row["SubAccountId"] == account[0] and row["BillingPeriodStart"] == month
                                 and row["ChargeCategory"] in ("Usage", "Purchase"))
                    team = next(t for t in TEAMS if t.sub_account == account)
                    rows.append(self._other_row(team, month, _next_month(month), "Tax", "Recurring",
                                                round(billed * 0.08, 2), round(billed * 0.08, 2),
                                                "Sales tax", tags=False))
        return rows

    def _other_row(self, team: Team, start: datetime, end: datetime, category: str, frequency: str,
                   billed: float, effective: float, description: str, resource_id: str | None = None,
                   resource_name: str | None = None, commitment: tuple[str, str] | None = None,
                   tags: bool = True) -> dict:
        row = {key: None for key in BILL_COLUMNS}
        row.update({
            "BillingAccountId": PAYER[0], "BillingAccountName": PAYER[1],
            "SubAccountId": team.sub_account[0], "SubAccountName": team.sub_account[1],
            "BillingCurrency": "USD", "BillingPeriodStart": start, "BillingPeriodEnd": _next_month(start),
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeCategory": category,
            "ChargeDescription": description, "ChargeFrequency": frequency,
            "BilledCost": round(billed, 10), "EffectiveCost": round(effective, 10),
            "ListCost": round(billed, 10) if category == "Purchase" else 0.0,
            "ContractedCost": round(billed, 10) if category == "Purchase" else 0.0,
            "ProviderName": PROVIDER, "PublisherName": PROVIDER, "InvoiceIssuerName": PROVIDER,
            "ServiceCategory": "Compute" if category == "Purchase" else "Other",
            "ServiceName": "Amazon Elastic Compute Cloud" if category == "Purchase" else "AWS Billing",
            "RegionId": HOME_REGION if category == "Purchase" else None,
            "RegionName": REGION_NAMES[HOME_REGION] if category == "Purchase" else None,
            "ResourceId": resource_id, "ResourceName": resource_name,
            "Tags": json.dumps({"department": team.department, "team": team.name}, sort_keys=True) if tags else None,
        })
        if commitment:
            row.update({"CommitmentDiscountId": commitment[0], "CommitmentDiscountName": commitment[1],
                        "CommitmentDiscountCategory": "Usage", "CommitmentDiscountType": "Reserved Instance",
                        "PricingCategory": "Committed"})
        return row


BILL_COLUMNS: tuple[str, ...] = (
    "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "ListUnitPrice", "ContractedUnitPrice", "ConsumedQuantity", "ConsumedUnit",
    "PricingQuantity", "PricingUnit", "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountCategory", "CommitmentDiscountStatus", "CommitmentDiscountType", "ProviderName",
    "PublisherName", "InvoiceIssuerName", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "RegionId",
    "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType", "Tags",
)
_TIMESTAMP_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
_FLOAT_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
                  "ContractedUnitPrice", "ConsumedQuantity", "PricingQuantity")


def _tagged_team(tags: dict) -> str | None:
    return next((value for key, value in tags.items() if key.split(":")[-1].lower() == "team"), None)


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0)


def _bill_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {c: (pl.Datetime("us", "UTC") if c in _TIMESTAMP_COLUMNS else pl.Float64 if c in _FLOAT_COLUMNS
                  else pl.String) for c in BILL_COLUMNS}
    columns = {c: [row.get(c) for row in rows] for c in BILL_COLUMNS}
    return pl.DataFrame(columns, schema=schema).sort("ChargePeriodStart", "ResourceId", "ChargeCategory",
                                                     maintain_order=True)


def _write_csv_gz(frame: pl.DataFrame, path: Path, broken_rows: list[dict]) -> None:
    buffer = io.BytesIO()
    frame.write_csv(buffer, datetime_format="%Y-%m-%dT%H:%M:%SZ")
    text = buffer.getvalue().decode()
    for bad in broken_rows:  # appended raw, as a broken exporter would write them
        text += bad["line"] + "\n"
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.encode())


def _broken_rows(frame: pl.DataFrame, file_name: str) -> list[dict]:
    """Two rows an exporter got wrong, so the sample's quarantine is not empty: Tags that are not JSON,
    and a cost that is not a number. They duplicate a real row's other fields, so nothing else changes."""
    template = frame.row(0, named=True)
    buffer = io.StringIO()
    broken = []
    for rule, change in (("tags_not_json_object", {"Tags": "{team: checkout"}),
                         ("cost_unparseable", {"BilledCost": "n/a"})):
        values = {**template, **change}
        buffer.seek(0)
        buffer.truncate()
        pl.DataFrame({c: [None if values[c] is None else str(values[c]) if c not in _TIMESTAMP_COLUMNS
                          else values[c].strftime("%Y-%m-%dT%H:%M:%SZ")] for c in BILL_COLUMNS},
                     schema={c: pl.String for c in BILL_COLUMNS}).write_csv(buffer, include_header=False)
        broken.append({"file": f"billing/{file_name}", "row_number": frame.height + len(broken) + 1,
                       "rule": rule, "line": buffer.getvalue().rstrip("\n")})
    return broken


def generate_sample(out: Path, seed: int, days: int = 60, resources: int = 40,
                    start: date = DEFAULT_START) -> SampleSummary:
    """Write a data folder (billing/, deployments/, team_repositories.csv, traffic.csv, incidents.csv,
    ground_truth.json) under `out`. Files this generator wrote before are replaced; others are kept."""
    gen = _Generator(seed, days, resources, start)
    gen.build_resources()
    gen.harmless_deployments()
    gen.inject()
    rows = gen.bill_rows()

    out = Path(out)
    billing = out / "billing"
    deployments_dir = out / "deployments"
    for folder in (billing, deployments_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for stale in [*billing.glob("focus_*.parquet"), *billing.glob("focus_*.csv.gz"), *deployments_dir.glob("*.jsonl"),
                  *(out / "repos").glob("*/*.bundle")]:
        stale.unlink()

    # Real commits behind every deployment: write the repositories, then every SHA is known.
    plans: dict[str, list[PlannedCommit]] = {}
    for commit in gen.commits.values():
        plans.setdefault(commit.repository, []).append(commit)
    owners = {t.repository: t.name for t in TEAMS}
    write_repositories(out, plans, owners)
    for event in gen.deployments:
        event["commit_sha"] = gen.commits[event["id"]].sha
    for event in gen.events:
        if event["deployment_id"]:
            commit = gen.commits[event["deployment_id"]]
            event["commit_sha"], event["offending_file"] = commit.sha, commit.changed_file

    frame = _bill_frame(rows)
    files, expected_quarantine = [], []
    for index, (month,) in enumerate(frame.select(pl.col("BillingPeriodStart").unique().sort()).iter_rows()):
        part = frame.filter(pl.col("BillingPeriodStart") == month)
        name = f"focus_{month:%Y-%m}"
        if index % 2 == 0:
            path = billing / f"{name}.parquet"
            part.write_parquet(path, statistics=True)
        else:
            path = billing / f"{name}.csv.gz"
            broken = _broken_rows(part, path.name) if index == 1 else []
            _write_csv_gz(part, path, broken)
            expected_quarantine += [{k: b[k] for k in ("file", "row_number", "rule")} for b in broken]
        files.append(path.name)

    deployments = sorted(gen.deployments, key=lambda d: (d["deployed_at"], d["id"]))
    lines = [json.dumps(d, sort_keys=True) for d in deployments]
    if deployments:  # a webhook delivered twice: the contract removes duplicates by id
        lines.insert(len(lines) // 2, json.dumps(deployments[len(deployments) // 3], sort_keys=True))
    (deployments_dir / "deployments.jsonl").write_text("\n".join(lines) + "\n")

    repos = ["department,team,repository,primary_repo"]
    for team in TEAMS:
        if team.registered:
            repos.append(f"{team.department},{team.name},{team.repository},true")
            repos += [f"{team.department},{team.name},{extra},false" for extra in EXTRA_REPOSITORIES.get(team.name, ())]
    (out / "team_repositories.csv").write_text("\n".join(repos) + "\n")

    traffic = ["date,department,team,requests"]
    for d in range(days):
        for team in TEAMS:
            traffic.append(f"{start + timedelta(d)},{team.department},{team.name},"
                           f"{round(team.traffic_base * gen.traffic[team.name][d])}")
    (out / "traffic.csv").write_text("\n".join(traffic) + "\n")

    _write_incidents(out / "incidents.csv", gen)
    truth = {
        "generator": "finops_devtools.sample.generator", "seed": seed, "days": days, "resources": resources,
        "start": start.isoformat(), "end": (start + timedelta(days)).isoformat(),
        "causes": sorted({e["cause"] for e in gen.events}),
        "events": gen.events,
        "expected_quarantine": expected_quarantine,
        "unregistered_teams": [t.name for t in TEAMS if not t.registered],
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for event in gen.events:
        counts[event["cause"]] = counts.get(event["cause"], 0) + 1
    return SampleSummary(out=out, seed=seed, days=days, resources=len(gen.resources), bill_rows=frame.height,
                         bill_files=files, deployments=len(deployments), events=counts)


def _write_incidents(path: Path, gen: _Generator) -> None:
    """Past incidents: the first injected event that was resolved (its window is known), and an
    outage with no cost effect, as on-call logs have."""
    rows = []
    resolved = [e for e in gen.events if e["end"] is not None and e["cause"] == "deployment_correlation"]
    if resolved:
        event = min(resolved, key=lambda e: e["onset"])
        first_alert = datetime.fromisoformat(event["onset"]) + timedelta(hours=3)
        rows.append({"incident_id": "INC-1001", "title": f"Cost spike on {event['team']}",
                     "started_at": event["onset"], "first_alert_at": first_alert.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "resolved_at": event["end"], "affected_resources": ";".join(event["resource_ids"]),
                     "affected_metrics": "cost", "root_cause": event["description"],
                     "resolution": "reverted the deployment"})
    outage = gen._at(gen.hours // 3 + 14)
    rows.append({"incident_id": "INC-1002", "title": "search-api latency above SLO",
                 "started_at": outage.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "first_alert_at": (outage + timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "resolved_at": (outage + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "affected_resources": "", "affected_metrics": "p99_latency",
                 "root_cause": "noisy neighbour on a shared cache node", "resolution": "moved to a new node"})
    fields = ("incident_id", "title", "started_at", "first_alert_at", "resolved_at", "affected_resources",
              "affected_metrics", "root_cause", "resolution")
    pl.DataFrame([{f: r[f] for f in fields} for r in rows], schema={f: pl.String for f in fields}).write_csv(path)
