"""Control chart, anomaly episodes and the evidence each anomaly's cause is decided on.

The statements are SQL files under lib/detection/sql; this module runs them in order with the
settings as parameters; lib/routing/decisions.py routes the evidence it selects.
"""

import math
import re
from dataclasses import asdict, dataclass

import duckdb
import polars as pl

from finops_assets.lib.billing.vendors import register_vendor_lines
from finops_assets.lib.common.sql import load_sql

# Resource-days per baseline pass: median/MAD windows hold their frames in memory, so big bills are
# processed in hash buckets of resources (about 1 GB of DuckDB memory per 2 million resource-days).
BASELINE_BUCKET_ROWS = 2_000_000


@dataclass(frozen=True)
class DetectionSettings:
    k_sigma: float = 3.0            # control limit, in robust standard deviations
    dollar_floor: float = 10.0      # a day must exceed its baseline by at least this much (reporting currency)
    pct_floor: float = 0.20         # ... and by at least this share
    std_floor_pct: float = 0.03     # the standard deviation is at least this share of the baseline
    window_hours: float = 6.0       # deployment correlation window (seed 000: 6 h, 2 to 24 configurable)
    latent_days: int = 7            # widened window for a gradual rise
    cost_metric: str = "auto"
    baseline_window_days: int = 28  # baselines, "new to the account", prior stable days and weekly recurrence look back this far
    min_baseline_days: int = 3      # a same-kind-of-day baseline needs at least this many trainable days in the window ...
    fallback_window_days: int = 14  # ... else all days of this shorter window make the baseline ...
    fallback_min_days: int = 5      # ... if at least this many of them are trainable
    onset_sigma: float = 3.0        # an hour is elevated this many robust sigmas above its hour-of-day median
    onset_history_days: int = 14    # the hour-of-day medians come from this many days before the anomaly
    onset_confirm_hours: int = 2    # the onset hour is the first elevated hour with at least this many ...
    onset_confirm_window_hours: int = 3  # ... elevated hours among the next this many

    def __post_init__(self):
        if not 2 <= self.window_hours <= 24:
            raise ValueError(f"window_hours must be between 2 and 24, got {self.window_hours}")
        if self.k_sigma <= 0 or self.dollar_floor < 0 or self.pct_floor < 0:
            raise ValueError("k_sigma must be positive, dollar_floor and pct_floor not negative")
        # The window sizes end up in SQL window frames: whole numbers only, checked here.
        for name in ("latent_days", "baseline_window_days", "min_baseline_days", "fallback_window_days",
                     "fallback_min_days", "onset_history_days", "onset_confirm_hours", "onset_confirm_window_hours"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if self.baseline_window_days % 7:
            # The baseline's ROWS frames count weekdays and weekend days of a dense calendar: exact
            # only for whole weeks (28 days = 20 weekdays + 8 weekend days).
            raise ValueError(f"baseline_window_days must be a whole number of weeks, got {self.baseline_window_days}")
        if self.onset_confirm_hours > self.onset_confirm_window_hours:
            raise ValueError(f"onset_confirm_hours ({self.onset_confirm_hours}) must not exceed "
                             f"onset_confirm_window_hours ({self.onset_confirm_window_hours})")
        if self.onset_sigma <= 0:
            raise ValueError(f"onset_sigma must be positive, got {self.onset_sigma}")

    def sql_parameters(self) -> dict:
        """The settings as SQL parameters, with the baseline's frame sizes derived from its window."""
        return {**asdict(self), "weekday_frame_rows": self.baseline_window_days * 5 // 7,
                "weekend_frame_rows": self.baseline_window_days * 2 // 7}


def _params(sql: str, values: dict) -> dict:
    """Only the parameters a statement uses (DuckDB rejects unused named parameters)."""
    used = set(re.findall(r"\$([a-z_]+)", re.sub(r"--[^\n]*", "", sql)))  # comments may name parameters
    return {k: v for k, v in values.items() if k in used}


def run_statement(conn: duckdb.DuckDBPyConnection, name: str, settings: DetectionSettings) -> None:
    sql = load_sql(name)
    conn.execute(sql, _params(sql, settings.sql_parameters()))


def select_frame(conn: duckdb.DuckDBPyConnection, name: str, settings: DetectionSettings) -> pl.DataFrame:
    sql = load_sql(name)
    return conn.sql(sql, params=_params(sql, settings.sql_parameters()) or None).pl()


def build_baselines(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings) -> None:
    """cost_baselines: every resource-day with its baseline, sigma and flag (replaced as a whole)."""
    conn.execute(load_sql("detection/create_cost_baselines"))
    conn.execute("create or replace temp table cost_baseline_exclusions (resource_id varchar, usage_date date)")
    resource_days = conn.sql("select count(*) from billing_rollup where charge_category = 'Usage'").fetchall()[0][0]
    _insert_baseline_buckets(conn, settings, resource_days, excluded_only=False)
    run_statement(conn, "detection/update_cost_baselines_new_spend", settings)
    # Third pass (DESIGN 7, seed 003: flagged days never train a baseline): the new-spend rule judges a
    # new resource's first days after the two passes, so the resources it flagged are charted again
    # with those days left out; the flagged days themselves keep the new-spend judgement.
    conn.execute(load_sql("detection/insert_cost_baseline_exclusions"))
    excluded_days = conn.sql("select count(*) from cost_baselines where resource_id in "
                             "(select resource_id from cost_baseline_exclusions)").fetchall()[0][0]
    if excluded_days:
        conn.execute("create or replace temp table cost_baselines_new_spend as select b.* from cost_baselines b "
                     "semi join cost_baseline_exclusions using (resource_id, usage_date)")
        conn.execute("delete from cost_baselines where resource_id in (select resource_id from cost_baseline_exclusions)")
        _insert_baseline_buckets(conn, settings, excluded_days, excluded_only=True)
        conn.execute("delete from cost_baselines b where exists (select 1 from cost_baseline_exclusions x "
                     "where x.resource_id = b.resource_id and x.usage_date = b.usage_date)")
        conn.execute("insert into cost_baselines select * from cost_baselines_new_spend")
        conn.execute("drop table cost_baselines_new_spend")
    conn.execute("drop table cost_baseline_exclusions")


def _insert_baseline_buckets(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings, resource_days: int,
                             excluded_only: bool) -> None:
    buckets = max(1, math.ceil(resource_days / BASELINE_BUCKET_ROWS))
    sql = load_sql("detection/insert_cost_baselines_bucket")
    for bucket in range(buckets):
        conn.execute(sql, _params(sql, {**settings.sql_parameters(), "buckets": buckets, "bucket": bucket,
                                        "excluded_only": excluded_only}))


def build_anomalies(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings) -> None:
    """cost_anomalies: one row per episode, detected_at refined to the onset hour where the bill is hourly."""
    run_statement(conn, "detection/create_cost_anomalies", settings)
    onsets = select_frame(conn, "detection/select_onset_hours", settings)
    conn.register("onsets_frame", onsets.to_arrow())
    conn.execute("create or replace table cost_anomaly_onsets as select * from onsets_frame")
    conn.unregister("onsets_frame")
    conn.execute(load_sql("detection/update_cost_anomalies_detected_at"))
    conn.execute(load_sql("detection/update_cost_anomalies_detected_at_new_resources"))


def anomaly_evidence(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings) -> pl.DataFrame:
    """One row per anomaly with everything routing looks at (anomaly, onset shape, bill, traffic)."""
    conn.execute(load_sql("billing/create_cost_metric_macro"))
    conn.execute(load_sql("billing/create_billing_cost_basis"))
    register_vendor_lines(conn)  # which lines are third party (lib/billing/vendors.py)
    bill = select_frame(conn, "detection/select_anomaly_evidence", settings)
    traffic = select_frame(conn, "detection/select_traffic_evidence", settings)
    anomalies = conn.sql("select * from cost_anomalies").pl()
    onsets = conn.sql("select * from cost_anomaly_onsets").pl()
    frame = anomalies.join(onsets.drop("onset_hour"), on="anomaly_id", how="left").join(bill, on="anomaly_id", how="left")
    return frame.join(traffic, on="anomaly_id", how="left")


def deployment_candidates(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(context per anomaly: has_repository_map, candidates: deployments that could explain it)."""
    conn.execute(load_sql("detection/create_cost_anomaly_context"))
    context = conn.sql("select anomaly_id, has_repository_map from cost_anomaly_context").pl()
    candidates = select_frame(conn, "detection/select_deployment_candidates", settings)
    return context, candidates


def build_team_alerts(conn: duckdb.DuckDBPyConnection) -> int:
    conn.execute(load_sql("detection/create_team_alerts"))
    return conn.sql("select count(*) from team_alerts").fetchall()[0][0]
