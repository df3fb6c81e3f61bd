"""What the catalog shows for every analyst table: its columns (derived from the code that writes
the table, lib/publishing/schemas.py), its name in the analysts' snapshot, and the freshness the
06:00 UTC schedule promises."""

from datetime import timedelta

import dagster as dg

from finops_assets.lib.publishing.schemas import analyst_table_columns, table_name

# The daily schedule runs at 06:00 UTC; a run takes minutes. Warn after 25 h, fail after 26 h: one
# missed (or failed) day shows as a failed freshness check before the next morning's run.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))


def table_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.type, description=c.description,
                       constraints=dg.TableColumnConstraints(nullable=c.nullable))
        for c in analyst_table_columns()[table]])


def table_metadata(table: str) -> dict:
    """Definition metadata of the asset that writes `table`: dagster/column_schema and dagster/table_name."""
    # The standard keys (TableMetadataSet is not exported at the top level of dagster 1.13).
    return {"dagster/column_schema": table_schema(table), "dagster/table_name": table_name(table)}
