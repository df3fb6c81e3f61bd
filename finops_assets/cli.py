"""finops-assets: run the asset graph in-process, generate sample data, benchmark."""

import argparse
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path


class RunFailed(Exception):
    """A one-line reason the run did not complete."""


PROJECT_HOME = ".dagster_home"  # the project-local DAGSTER_HOME, beside dagster.yaml (git-ignored)


def project_dagster_home(folder: Path) -> Path | None:
    """`folder`/.dagster_home when `folder` is the project (it holds dagster.yaml), created on first
    use with a dagster.yaml that links to the project's, the same instance `make dev` opens; None
    elsewhere. A dagster.yaml already there (yours, e.g. the PostgreSQL one) is left alone."""
    config = folder / "dagster.yaml"
    if not config.is_file():
        return None
    home = folder / PROJECT_HOME
    home.mkdir(exist_ok=True)
    link = home / "dagster.yaml"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(Path("..") / "dagster.yaml")
    return home.resolve()


def _instance():
    """Your DAGSTER_HOME when set; else the project's .dagster_home (what `make dev` and `dg dev`
    started by the Makefile open), so the run shows in the UI; in-memory only when run outside the
    project or with FINOPS_EPHEMERAL_INSTANCE=1 (the tests)."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    home = None if os.environ.get("FINOPS_EPHEMERAL_INSTANCE") == "1" else project_dagster_home(Path.cwd())
    return dg.DagsterInstance.from_config(str(home)) if home else dg.DagsterInstance.ephemeral()


def _error_line(failure) -> str:
    """The first line of what went wrong in a step: a dg.Failure's description, else the user's
    exception inside Dagster's wrapper (never the wrapper's name or a traceback)."""
    if failure.user_failure_data is not None and failure.user_failure_data.description:
        return failure.user_failure_data.description.strip().splitlines()[0]
    error = failure.error
    while error is not None and error.cls_name.startswith("Dagster") and error.cause is not None:
        error = error.cause
    return (error.message if error else "step failed").strip().splitlines()[0]


def _failure_reason(result) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            return f"{event.step_key}: {_error_line(event.step_failure_data)}"
    return "run failed"


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        lines = str(meta.get("orig_message") or record.getMessage()).strip().splitlines()
        line, step = (lines[0] if lines else ""), meta.get("step_key") or "run"
        return line if line.startswith(f"{step}:") else f"{step}: {line}"


def _not_an_event(record: logging.LogRecord) -> bool:
    # Only what the assets say: Dagster's own events are debug noise, or a failure with its
    # traceback (and a line per step it abandons), which the CLI reports itself as one line.
    meta = getattr(record, "dagster_meta", None) or {}
    return meta.get("dagster_event") is None and not str(meta.get("orig_message", "")).startswith("Dependencies for step ")


def _one_line_logger(init_context):
    logger = logging.Logger("finops-assets", level=logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    handler.addFilter(_not_an_event)
    logger.addHandler(handler)
    return logger


def _execute(job, instance, asset_names: list[str], tags: dict[str, str] | None = None):
    import dagster as dg

    job = job.with_logger_defs({"console": dg.LoggerDefinition(_one_line_logger)})
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(name) for name in asset_names],
        tags=tags or {},
        run_config={"loggers": {"console": {}}},  # ours replaces Dagster's default (DEBUG, tracebacks)
        raise_on_error=False,
    )
    if not result.success:
        raise RunFailed(_failure_reason(result))
    return result


def _check_billing_folder(billing_dir: Path) -> None:
    """Fail before any work when there is no bill to load: an empty run would publish empty tables."""
    from finops_assets.lib.billing.ingest import (
        BILLING_SUFFIXES,
        discover_billing_files,
    )

    if not billing_dir.is_dir():
        raise RunFailed(f"no billing folder {billing_dir}: put the FOCUS exports ({', '.join(BILLING_SUFFIXES)}) there")
    files = discover_billing_files(billing_dir)
    if not files:
        raise RunFailed(f"no billing file ({', '.join(BILLING_SUFFIXES)}) in {billing_dir}")
    if all(f.stat().st_size == 0 for f in files):
        names = ", ".join(f.name for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        raise RunFailed(f"every billing file in {billing_dir} is empty (0 bytes): {names}")


def _load(defs):
    """The code location's definitions; a FINOPS_* variable it cannot use is one line (RunFailed),
    not the loader's traceback around it."""
    from finops_assets.defs.resources import ConfigurationError

    try:
        return defs()
    except Exception as exc:
        cause = exc
        while cause is not None and not isinstance(cause, ConfigurationError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise RunFailed(str(cause)) from None


def _with_resources(definitions, resources: dict):
    """The same definitions with these resources in place of the code location's."""
    import dagster as dg

    return dg.Definitions(assets=definitions.assets, asset_checks=definitions.asset_checks,
                          schedules=definitions.schedules, sensors=definitions.sensors, jobs=definitions.jobs,
                          resources=resources, executor=definitions.executor, loggers=definitions.loggers,
                          metadata=definitions.metadata)


def _job_partitioned_from(definitions, first_day: date):
    """finops_daily over the same assets with the daily ones partitioned from the bill's first day:
    the code location decides its start from where its own data is (defs/partitions.py), this run
    covers the bill it was given."""
    import warnings

    import dagster as dg

    from finops_assets.defs.partitions import build_daily_partitions

    partitions = build_daily_partitions(first_day.isoformat())
    assets = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # map_asset_specs: preview in 1.13
        for asset in definitions.assets:
            if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def is not None:
                asset = asset.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions))
            assets.append(asset)
    job = next(j for j in definitions.jobs if j.name == "finops_daily")
    return dg.Definitions(assets=assets, asset_checks=definitions.asset_checks, jobs=[job],
                          resources=definitions.resources).resolve_job_def("finops_daily")


def run_pipeline(data_dir: Path, warehouse: Path) -> int:
    """Materialize the whole graph for every day in the bill, then publish; returns the exit code."""
    if not data_dir.is_dir():
        raise RunFailed(f"data folder {data_dir} does not exist")
    _check_billing_folder(data_dir / "billing")
    from finops_assets.definitions import defs
    from finops_assets.defs.resources import build_resources
    from finops_assets.lib.billing.bill_sensor import INGESTION_ASSETS
    from finops_assets.lib.common.sql import fetch_one, load_sql
    from finops_assets.lib.publishing.run_summary import run_summary
    from finops_assets.lib.publishing.snapshot import WarehouseLocationError

    # Explicit resources from this command's arguments (FINOPS_DATA_DIR / FINOPS_WAREHOUSE are never
    # written; loading the definitions exports the partition start, see defs/partitions.py).
    settings = {**os.environ, "FINOPS_DATA_DIR": str(data_dir), "FINOPS_WAREHOUSE": str(warehouse)}
    definitions = _with_resources(_load(defs), _load(lambda: build_resources(settings)))
    job = definitions.resolve_job_def("finops_daily")
    # Executable assets only: pull_requests and pr_audit_log are written by the PR job, not by a run.
    all_assets = sorted(k.to_user_string() for k in definitions.resolve_asset_graph().executable_asset_keys)
    try:
        definitions.resources["warehouse"].check_location(data_dir)
    except WarehouseLocationError as exc:
        raise RunFailed(str(exc)) from None
    instance = _instance()
    started = time.monotonic()

    print(f"[1/2] ingesting billing files from {data_dir / 'billing'}", flush=True)
    _execute(job, instance, list(INGESTION_ASSETS))
    warehouse_resource = definitions.resources["warehouse"]
    with warehouse_resource.read() as conn:
        first_day, last_day = fetch_one(conn, load_sql("billing/select_days_to_rebuild"))
        failed = conn.execute("select source_file, error from billing_files where status = 'failed'").fetchall()

    rest = [a for a in all_assets if a not in INGESTION_ASSETS]
    if first_day is None:
        print("[2/2] no billing rows: building side inputs and publishing only", flush=True)
        unpartitioned = [a for a in rest if not definitions.resolve_assets_def(a).partitions_def]
        _execute(job, instance, unpartitioned)
    else:
        _check_range(first_day, last_day)
        job = _job_partitioned_from(definitions, first_day)
        print(f"[2/2] building {len(rest)} assets for {first_day} .. {last_day}", flush=True)
        _execute(job, instance, rest, tags={
            "dagster/asset_partition_range_start": first_day.isoformat(),
            "dagster/asset_partition_range_end": last_day.isoformat(),
        })
    print(f"published {warehouse} in {time.monotonic() - started:.1f}s", flush=True)
    for line in run_summary(warehouse.resolve()):
        print(f"  {line}", flush=True)
    if failed:
        for source_file, error in failed:
            print(f"warning: billing file {source_file} was not loaded: {error}", file=sys.stderr)
        print(f"completed, but {len(failed)} billing file(s) could not be loaded (see billing_files)", file=sys.stderr)
        return 3
    return 0


def _check_range(first_day: date, last_day: date) -> None:
    from finops_assets.defs.partitions import build_daily_partitions

    keys = build_daily_partitions(first_day.isoformat()).get_partition_keys()
    if last_day.isoformat() > keys[-1]:
        raise RunFailed(
            f"the bill has charges up to {last_day}, after the last partition {keys[-1]} (today, UTC): "
            "future-dated charges; check the export (or the --start of a generated sample)"
        )


def _cmd_run(args) -> int:
    return run_pipeline(Path(args.data_dir), Path(args.warehouse))


def _cmd_generate_sample(args) -> int:
    from finops_devtools.sample.generator import generate_sample

    start = date.fromisoformat(args.start) if args.start else None
    try:
        summary = generate_sample(Path(args.out), seed=args.seed, days=args.days, resources=args.resources,
                                  **({"start": start} if start else {}))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def _cmd_evaluate(args) -> int:
    from finops_devtools.evaluation.evaluate import evaluate, format_report

    try:
        results = evaluate(Path(args.data_dir), Path(args.warehouse))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_report(results))
    return 0


def _cmd_chart(args) -> int:
    """One anomaly's control chart as a PNG, from the analysts' snapshot opened read-only (the run
    that replaces it is never blocked)."""
    import duckdb

    from finops_assets.defs.resources import build_resources
    from finops_assets.lib.detection.charts import UnknownAnomalyError, chart_png

    # The code location's own settings (FINOPS_K_SIGMA, the baseline window), so this chart is the
    # one the UI shows; a bad setting is the one line `run` prints for it.
    detection = _load(lambda: build_resources(os.environ))["settings"].detection_settings()
    k_sigma = detection.k_sigma if args.k_sigma is None else args.k_sigma
    warehouse, out = Path(args.warehouse), Path(args.out)
    if not warehouse.is_file():
        raise RunFailed(f"no warehouse {warehouse}: run `finops-assets run` first, or pass --warehouse")
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise RunFailed(f"warehouse {warehouse}: {str(exc).strip().splitlines()[0]}") from None
    try:
        png = chart_png(conn, args.anomaly_id, k_sigma=k_sigma, baseline_days=detection.baseline_window_days)
    except UnknownAnomalyError as exc:
        raise RunFailed(f"{exc} of {warehouse}") from None
    finally:
        conn.close()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
    except OSError as exc:
        raise RunFailed(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({len(png):,} bytes)")
    return 0


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _cmd_serve_webhooks(args) -> int:
    from finops_assets.webhooks.server import serve

    serve(Path(args.data_dir), host=args.host, port=args.port)
    return 0


def _cmd_poll_github(args) -> int:
    """For teams that cannot send webhooks: successful production deployments read through PyGithub
    into the same event store the webhook receiver writes (the sensor picks them up)."""
    from datetime import UTC, datetime, timedelta

    from finops_assets.lib.codehost.github import GitHubCodeHost
    from finops_assets.lib.codehost.host import CodeHostError
    from finops_assets.lib.deployments.event_store import DeploymentEventStore
    from finops_assets.lib.deployments.polling import poll_github_deployments
    from finops_assets.lib.deployments.repository_names import RepositoryNameError

    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        print("error: set GITHUB_TOKEN to a token that can read the repositories' deployments", file=sys.stderr)
        return 2
    since = (datetime.fromisoformat(args.since.replace("Z", "+00:00")) if args.since
             else datetime.now(UTC) - timedelta(days=1))
    host = GitHubCodeHost(token, base_url=os.environ.get("FINOPS_GITHUB_API_URL", "https://api.github.com"))
    try:
        events = poll_github_deployments(host, [r.strip() for r in args.repositories.split(",") if r.strip()], since)
    except RepositoryNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CodeHostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    store = DeploymentEventStore(Path(args.data_dir) / "deployments")
    stored = sum(store.append(event) for event in events)
    print(f"{len(events)} successful production deployments since {since:%Y-%m-%d %H:%M} UTC; {stored} new")
    return 0


def _cmd_bench(args) -> int:
    if args.detection:
        from finops_devtools.bench.detection import run_detection_bench

        print(run_detection_bench(resources=args.resources, days=args.days, anomalies=args.anomalies,
                                  deployments=args.deployments,
                                  work_dir=Path(args.work_dir) if args.work_dir else None), flush=True)
        return 0
    from finops_devtools.bench.ingestion import run_ingestion_bench

    run_ingestion_bench(rows=args.rows, work_dir=Path(args.work_dir) if args.work_dir else None,
                        formats=args.formats.split(","), repeat=args.repeat)
    return 0


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower() or action.required or action.default is None:
            return text
        return super()._get_help_string(action)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finops-assets")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finops-assets", description=__doc__, formatter_class=_HelpWithDefaults)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="materialize the whole asset graph for every day in the data folder")
    run.add_argument("--data-dir", default=os.environ.get("FINOPS_DATA_DIR", "data"),
                     help="the input folder (billing/ and side inputs; $FINOPS_DATA_DIR)")
    run.add_argument("--warehouse", default=os.environ.get("FINOPS_WAREHOUSE", "data/warehouse/finops.duckdb"),
                     help="the analysts' DuckDB snapshot to publish ($FINOPS_WAREHOUSE)")
    run.set_defaults(handler=_cmd_run)

    sample = commands.add_parser("generate-sample", help="write a synthetic data folder with ground truth")
    sample.add_argument("--out", required=True, help="the data folder to write")
    sample.add_argument("--seed", type=int, required=True, help="same seed, same bytes")
    sample.add_argument("--days", type=int, default=60, help="days of billing")
    sample.add_argument("--resources", type=int, default=40, help="cloud resources (about)")
    sample.add_argument("--start", default=None, help="first day of the bill, YYYY-MM-DD (default 2026-06-01)")
    sample.set_defaults(handler=_cmd_generate_sample)

    evaluate = commands.add_parser("evaluate", help="score the outputs against a generated folder's ground truth")
    evaluate.add_argument("--data-dir", default=os.environ.get("FINOPS_DATA_DIR", "data"),
                          help="a generated folder with ground_truth.json ($FINOPS_DATA_DIR)")
    evaluate.add_argument("--warehouse", default=os.environ.get("FINOPS_WAREHOUSE", "data/warehouse/finops.duckdb"),
                          help="the snapshot a run published from it ($FINOPS_WAREHOUSE)")
    evaluate.set_defaults(handler=_cmd_evaluate)

    chart = commands.add_parser("chart", help="write one anomaly's control chart (daily cost, baseline, control band, "
                                              "flagged days, onset; hourly around the onset) as a PNG")
    chart.add_argument("anomaly_id", help="an anomaly_id of cost_anomalies")
    chart.add_argument("--out", required=True, help="the PNG file to write")
    chart.add_argument("--warehouse", default=os.environ.get("FINOPS_WAREHOUSE", "data/warehouse/finops.duckdb"),
                       help="the analysts' snapshot, opened read-only (default: $FINOPS_WAREHOUSE or %(default)s)")
    chart.add_argument("--k-sigma", type=_positive_number, default=None,
                       help="control band half-width in robust sigmas (default: detection's, "
                            "$FINOPS_K_SIGMA or 3); the baseline window is detection's too")
    chart.set_defaults(handler=_cmd_chart)

    webhooks = commands.add_parser("serve-webhooks", help="receive deployment webhooks (GitHub Actions, Argo CD, "
                                                          "CircleCI) into the data folder's event store")
    webhooks.add_argument("--data-dir", default=os.environ.get("FINOPS_DATA_DIR", "data"),
                          help="accepted deployments go to its deployments/ ($FINOPS_DATA_DIR)")
    webhooks.add_argument("--host", default="127.0.0.1", help="address to listen on")
    webhooks.add_argument("--port", type=int, default=8088, help="port to listen on")
    webhooks.set_defaults(handler=_cmd_serve_webhooks)

    poll = commands.add_parser("poll-github-deployments", help="read GitHub deployments into the event store "
                                                               "(for teams that cannot send webhooks)")
    poll.add_argument("--repositories", required=True, help="comma-separated org/name")
    poll.add_argument("--since", default=None, help="ISO 8601 time (default: 24 hours ago)")
    poll.add_argument("--data-dir", default=os.environ.get("FINOPS_DATA_DIR", "data"),
                      help="events go to its deployments/ ($FINOPS_DATA_DIR)")
    poll.set_defaults(handler=_cmd_poll_github)

    bench = commands.add_parser("bench", help="ingestion + rollup throughput against DuckDB's own scan")
    bench.add_argument("--rows", type=int, default=1_000_000, help="billing rows to generate")
    bench.add_argument("--formats", default="parquet,csv", help="comma-separated: parquet,csv")
    bench.add_argument("--repeat", type=int, default=1, help="timed repetitions (best is reported)")
    bench.add_argument("--work-dir", default=None, help="where to write the generated files (default: a temp dir)")
    bench.add_argument("--detection", action="store_true",
                       help="time baselines, anomalies and routing + correlation instead of ingestion")
    bench.add_argument("--resources", type=int, default=100_000, help="--detection: resources")
    bench.add_argument("--days", type=int, default=180, help="--detection: days")
    bench.add_argument("--anomalies", type=int, default=10_000, help="--detection: injected two-day spikes")
    bench.add_argument("--deployments", type=int, default=100_000, help="--detection: deployment events")
    bench.set_defaults(handler=_cmd_bench)
    for command in commands.choices.values():
        command.formatter_class = _HelpWithDefaults
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
