from datetime import timedelta

import dagster as dg
import polars as pl
from pydantic import Field

from finops_assets.defs.catalog import DAILY_FRESHNESS, table_metadata
from finops_assets.defs.partitions import daily_partitions
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.billing.currency import reporting_currency
from finops_assets.lib.billing.ingest import (
    discover_billing_files,
    ingest_billing_files,
)
from finops_assets.lib.billing.rollup import rebuild_rollup_window, reconcile_window
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.common.money import format_money
from finops_assets.lib.common.sql import fetch_one, load_sql
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

OWNERS = ["team:finops"]


class FocusBillingConfig(dg.Config):
    full_refresh: bool = Field(default=False, description="Reload every billing file, changed or not")


@dg.multi_asset(
    specs=[
        dg.AssetSpec("focus_billing", group_name="billing", metadata=table_metadata("focus_billing"),
                     freshness_policy=DAILY_FRESHNESS, kinds={"duckdb", "polars"}, owners=OWNERS,
                     description="Every accepted FOCUS row of every billing file, typed, owner-resolved, "
                                 "with is_duplicate marking rows a newer delivery replaced."),
        dg.AssetSpec("billing_quarantine", group_name="billing", metadata=table_metadata("billing_quarantine"),
                     freshness_policy=DAILY_FRESHNESS, kinds={"duckdb"}, owners=OWNERS,
                     description="Rows that break a rule: source file, row number, rule, reason, raw record."),
        dg.AssetSpec("billing_files", group_name="billing", metadata=table_metadata("billing_files"),
                     freshness_policy=DAILY_FRESHNESS, kinds={"duckdb"}, owners=OWNERS,
                     description="One row per billing file: status, error, rows read / accepted / "
                                 "quarantined / superseded."),
    ],
    check_specs=[
        dg.AssetCheckSpec("rows_reconcile_per_file", asset="focus_billing", blocking=True,
                          description="Per file: rows read = rows accepted + rows quarantined"),
        dg.AssetCheckSpec("every_file_loaded", asset="focus_billing",
                          description="No billing file failed to load (the others load regardless)"),
    ],
    pool=DUCKDB_WRITE_POOL,
)
def focus_billing(context: dg.AssetExecutionContext, config: FocusBillingConfig,
                  warehouse: FinopsWarehouse, settings: FinopsSettings):
    """Ingest the FOCUS files under <data>/billing: new and changed files load, removed ones leave."""
    refused_links: list[str] = []
    files = discover_billing_files(settings.billing_dir, refused=refused_links)
    for refused in refused_links:
        context.log.warning(f"billing file {refused}")
    if not files:
        # Never go on with an empty bill: downstream would publish empty tables over the last good ones.
        where = settings.billing_dir
        raise dg.Failure(f"no billing file (*.csv, *.csv.gz, *.parquet) under {where}" if where.is_dir()
                         else f"billing folder {where} does not exist", allow_retries=False)
    rates = settings.exchange_rates()
    for problem in rates.problems:
        context.log.error(problem)
    ingest_settings = settings.ingest_settings(rates)
    with warehouse.write() as conn:
        # CSVs are staged as Parquet beside the warehouse (not in /tmp, which may be small).
        report = ingest_billing_files(conn, files, ingest_settings, full_refresh=config.full_refresh,
                                      staging_dir=warehouse.staging_dir)
        ledger = conn.sql(load_sql("billing/select_billing_files_reconciliation")).pl()
        files_table = conn.sql("select source_file, status, error, rows_read, rows_accepted, rows_quarantined, "
                               "rows_superseded from billing_files order by source_file").pl()
        totals = fetch_one(
            conn, "select count(*), coalesce(sum(billed_cost), 0), min(usage_date), max(usage_date) "
                  "from focus_billing where not is_duplicate")
        quarantine = conn.sql("select rule, count(*) as rows from billing_quarantine group by rule order by rows desc").pl()
        quarantine_sample = conn.sql("select source_file, row_number, reason from billing_quarantine "
                                     "order by source_file, row_number limit 10").pl()
        recorded_currency = reporting_currency(conn)  # as ingestion recorded it: what every later step shows
    for outcome in report.files:
        if outcome.status == "failed":
            context.log.error(f"billing file {outcome.source_file} could not be loaded: {outcome.error}")
        elif outcome.status != "unchanged":
            context.log.info(f"{outcome.status} {outcome.source_file}: read {outcome.rows_read:,}, "
                             f"accepted {outcome.rows_accepted:,}, quarantined {outcome.rows_quarantined:,}")
    if report.previous_reporting_currency:
        context.log.warning(f"reporting currency is now {recorded_currency} (was "
                            f"{report.previous_reporting_currency}): every billing file was reloaded")
    for currency, count in report.unconverted.items():
        # Money that is not in the rollups: say it every run until a rate or the setting fixes it.
        context.log.warning(f"{count:,} row(s) billed in {currency} are quarantined, not in the rollups: no valid "
                            f"rate to {recorded_currency} in exchange_rates.csv (add one, or set "
                            f"FINOPS_REPORTING_CURRENCY={currency} if that is your reporting currency)")
    for c in report.conversions:
        context.log.info(f"converted {c.rows:,} rows from {c.currency} at {c.rate:g} (exchange_rates.csv): "
                         f"{c.converted_billed_cost:,.2f} {recorded_currency} billed")
    if totals[0] == 0 and report.failed:
        first = report.failed[0]
        raise dg.Failure(f"no loadable billing file under {settings.billing_dir}: {len(report.failed)} failed, "
                         f"e.g. {first.source_file}: {first.error}", allow_retries=False)
    unaccounted = ledger.filter(pl.col("rows_unaccounted") != 0)
    yield dg.MaterializeResult(
        asset_key="focus_billing",
        metadata={
            "dagster/row_count": totals[0],
            "billed_cost_total": float(totals[1]),  # a number, so the UI plots it across runs
            "billed_cost_total_text": format_money(totals[1], recorded_currency),
            "reporting_currency": recorded_currency or "",
            "currency_conversions": dg.MetadataValue.md(
                "\n".join(f"- {c.rows:,} rows {c.currency} x {c.rate:g} = {c.converted_billed_cost:,.2f} "
                          f"{recorded_currency}" for c in report.conversions) or "none"),
            "first_usage_date": str(totals[2]), "last_usage_date": str(totals[3]),
            "files_loaded_this_run": sum(f.status == "loaded" for f in report.files),
            "files_unchanged": sum(f.status == "unchanged" for f in report.files),
            "files_failed": len(report.failed),
            "files": dg.MetadataValue.md(markdown_table(files_table, limit=50)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="billing_quarantine",
        metadata={"dagster/row_count": int(quarantine["rows"].sum()) if len(quarantine) else 0,
                  "rows_per_rule": dg.MetadataValue.md(markdown_table(quarantine, limit=30)),
                  "preview": dg.MetadataValue.md(markdown_table(quarantine_sample))},
    )
    yield dg.MaterializeResult(asset_key="billing_files", metadata={"dagster/row_count": len(files_table)})
    yield dg.AssetCheckResult(
        asset_key="focus_billing", check_name="rows_reconcile_per_file", passed=unaccounted.is_empty(),
        metadata={"files_checked": len(ledger), "files_out_of_balance": dg.MetadataValue.md(markdown_table(unaccounted))},
    )
    yield dg.AssetCheckResult(
        asset_key="focus_billing", check_name="every_file_loaded", passed=not report.failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{f.source_file}: {f.error}" for f in report.failed) or None,
        metadata={"failed_files": len(report.failed)},
    )


def _rollup_asset(table: str, grain: str, description: str):
    @dg.asset(
        name=table,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=["focus_billing"],
        group_name="billing",
        kinds={"duckdb"},
        owners=OWNERS,
        pool=DUCKDB_WRITE_POOL,
        metadata=table_metadata(table),
        freshness_policy=DAILY_FRESHNESS,
        check_specs=[dg.AssetCheckSpec("billed_cost_reconciles", asset=table, blocking=True,
                                       description="Billed cost equals the accepted rows' billed cost in the window")],
        description=description,
    )
    def _rollup(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse, settings: FinopsSettings) -> dg.MaterializeResult:
        window = context.partition_time_window  # one window for a single day or a whole backfill range
        start, end = window.start.date(), window.end.date()
        with warehouse.write() as conn:
            rows = rebuild_rollup_window(conn, table, start, end, settings.cost_metric)
            reconciliation = reconcile_window(conn, start, end)
            by_owner = conn.sql(
                f"select department, team, round(sum(cost), 2) as cost, round(sum(billed_cost), 2) as billed_cost "
                f"from {table} where usage_date >= $start and usage_date < $end group by all order by cost desc",
                params={"start": start, "end": end}).pl()
            currency = reporting_currency(conn)
        own_total = reconciliation.rollup_billed(table)
        cost_total = by_owner["cost"].sum() if len(by_owner) else 0.0
        owners_shown = by_owner.with_columns(
            [pl.Series(c, [format_money(v, currency) for v in by_owner[c]], dtype=pl.String) for c in ("cost", "billed_cost")])
        last = end - timedelta(days=1)  # the window's end is exclusive; the log names the last day built
        context.log.info(f"{table}: {rows:,} rows for {start}..{last} ({grain})")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "window": f"{start} .. {end} (exclusive)",
                "cost_metric": settings.cost_metric,
                "cost_total": float(cost_total),  # numbers, so the UI plots them across runs
                "billed_cost_total": float(own_total),
                "cost_total_text": format_money(cost_total, currency),
                "billed_cost_total_text": format_money(own_total, currency),
                "cost_by_owner": dg.MetadataValue.md(markdown_table(owners_shown, limit=20)),
            },
            check_results=[dg.AssetCheckResult(
                check_name="billed_cost_reconciles", passed=reconciliation.agrees(table),
                metadata={"source_billed": str(reconciliation.source_billed), "rollup_billed": str(own_total)},
            )],
        )

    return _rollup


billing_rollup = _rollup_asset(
    "billing_rollup", "daily",
    "Daily cost per provider, account, sub-account, department, team, service, resource, region and "
    "charge category: billed, effective, list, the detection metric `cost`, consumed quantity.")
billing_rollup_hourly = _rollup_asset(
    "billing_rollup_hourly", "hourly",
    "The same rollup per hour (charges longer than an hour are booked at their start, hourly_grain=false).")
