"""The control chart of one anomaly as a PNG: the resource's daily cost against its baseline and
control band, the flagged days and the onset, and the hourly cost around the onset.

Pure: the caller hands in a DuckDB connection to a warehouse (the pipeline's, or the analysts'
snapshot opened read-only) and gets PNG bytes. `chart_series` selects the points (tested on its
own); `render_chart` only draws them, with matplotlib's Agg canvas (no display, no pyplot state).
"""

import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image

from finops_assets.lib.billing.currency import reporting_currency
from finops_assets.lib.common.metadata import markdown_image
from finops_assets.lib.common.money import format_money
from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.common.text import md_cell, md_code, md_header, md_text, one_line

DAYS_AFTER = 14        # days shown after the episode's last elevated day (fewer when the bill ends)
HOURS_AROUND = 48      # the hourly panel: this many hours before and after the onset
# 800 x 450 px at 80 dpi, a 64-colour optimized PNG: 11 to 20 kB per chart (measured on a generated
# 50-day bill), so the at most 5 charts in an asset's metadata add about 100 kB to the run storage.
WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.625, 80


class UnknownAnomalyError(LookupError):
    """No such anomaly in the warehouse (or no cost_anomalies table at all): one line saying which."""


@dataclass(frozen=True)
class ChartSeries:
    anomaly: dict               # the cost_anomalies row (select_chart_anomaly.sql)
    daily: pl.DataFrame         # usage_date, actual_cost, baseline_mean, baseline_std, band_low, band_high, is_flagged, method
    hourly: pl.DataFrame        # usage_hour, cost (empty when the bill is not hourly)
    currency: str | None        # the reporting currency, None when the warehouse does not say
    cause: dict | None          # the routing_decisions row (path, confidence, rationale, evidence, deployment_id)
    k_sigma: float

    @property
    def flagged_days(self) -> list[date]:
        return self.daily.filter(pl.col("is_flagged"))["usage_date"].to_list()

    @property
    def onset(self) -> datetime:
        return self.anomaly["detected_at"]


def _has_table(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return conn.execute("select count(*) from duckdb_tables() where table_name = $t", {"t": table}).fetchall()[0][0] > 0


def _rows(conn: duckdb.DuckDBPyConnection, name: str, params: dict) -> list[dict]:
    result = conn.execute(load_sql(name), params)
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def chart_series(conn: duckdb.DuckDBPyConnection, anomaly_id: str, *, k_sigma: float, baseline_days: int,
                 with_cause: bool = True) -> ChartSeries:
    """The points of one anomaly's chart. `k_sigma` is the control limit detection used (the band),
    `baseline_days` its baseline window (the days shown before the anomaly): both from the settings
    (DetectionSettings.k_sigma, .baseline_window_days), so every chart of an anomaly is the same;
    `with_cause=False` leaves routing_decisions unread (cost_anomalies is charted before routing runs,
    so a routing_decisions table then is the previous run's). UnknownAnomalyError for an unknown id."""
    if not _has_table(conn, "cost_anomalies"):
        raise UnknownAnomalyError("the warehouse has no cost_anomalies table: run the pipeline first")
    found = _rows(conn, "detection/select_chart_anomaly", {"anomaly_id": anomaly_id})
    if not found:
        raise UnknownAnomalyError(f"no anomaly {anomaly_id!r} in cost_anomalies")
    anomaly = found[0]
    daily = conn.sql(load_sql("detection/select_chart_daily"), params={
        "resource_id": anomaly["resource_id"], "k_sigma": k_sigma,
        "first_day": anomaly["anomaly_date"] - timedelta(days=baseline_days),
        "last_day": anomaly["last_elevated_date"] + timedelta(days=DAYS_AFTER)}).pl()
    onset = anomaly["detected_at"]
    if _has_table(conn, "billing_rollup_hourly"):
        hourly = conn.sql(load_sql("detection/select_chart_hourly"), params={
            "resource_id": anomaly["resource_id"], "start": onset - timedelta(hours=HOURS_AROUND),
            "end": onset + timedelta(hours=HOURS_AROUND)}).pl()
    else:
        hourly = pl.DataFrame(schema={"usage_hour": pl.Datetime("us"), "cost": pl.Float64})
    cause = None
    if with_cause and _has_table(conn, "routing_decisions"):
        decided = _rows(conn, "detection/select_chart_cause", {"anomaly_id": anomaly_id})
        cause = decided[0] if decided else None
    return ChartSeries(anomaly=anomaly, daily=daily, hourly=hourly, currency=reporting_currency(conn),
                       cause=cause, k_sigma=k_sigma)


def chart_title(series: ChartSeries) -> str:
    a = series.anomaly
    cause = f" \u00b7 {series.cause['path']} ({series.cause['confidence']})" if series.cause else ""
    return f"{a['anomaly_id']} \u00b7 {one_line(a['resource_id'], 64)}{cause}"


_STYLE = {"font.family": ["DejaVu Sans"], "font.size": 9, "axes.titlesize": 10}


def chart_figure(series: ChartSeries) -> Figure:
    """The chart as a matplotlib Figure, not yet drawn (render_chart draws it): its axes say what is
    plotted (the cost axes are labelled with the reporting currency)."""
    unit = f"cost ({series.currency})" if series.currency else "cost"
    top = max([0.0, *series.daily["actual_cost"].drop_nulls().to_list(), *series.hourly["cost"].to_list()])
    money = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if top >= 100 else f"{v:,.2f}")
    onset = series.onset
    with rc_context(_STYLE):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        daily_ax, hourly_ax = fig.subplots(2, 1, height_ratios=[3, 2])
        fig.suptitle(chart_title(series), fontsize=11, parse_math=False)  # a `$` from the bill is not mathtext

        # Days without a baseline (too little history) are gaps in the band, not lines drawn across them.
        d = series.daily.with_columns(pl.col("baseline_mean", "band_low", "band_high").fill_null(float("nan")))
        days = d["usage_date"].to_list()
        daily_ax.fill_between(days, d["band_low"].clip(lower_bound=0).to_list(), d["band_high"].to_list(),
                              color="#c6dbef", alpha=0.7, label=f"control band (\u00b1{series.k_sigma:g}\u03c3)")
        daily_ax.plot(days, d["baseline_mean"].to_list(), color="#2171b5", linestyle="--", linewidth=1.2,
                      label="baseline")
        daily_ax.plot(days, d["actual_cost"].to_list(), color="#252525", linewidth=1.2, marker="o", markersize=2.5,
                      label="daily cost")
        flagged = d.filter(pl.col("is_flagged"))
        daily_ax.scatter(flagged["usage_date"].to_list(), flagged["actual_cost"].to_list(), color="#cb181d",
                         s=28, zorder=3, label="flagged day")
        daily_ax.axvline(onset, color="#cb181d", linewidth=1, linestyle=":", label=f"onset {onset:%Y-%m-%d %H:%M} UTC")
        daily_ax.set_ylabel(unit)
        daily_ax.set_title("daily cost against its baseline", loc="left")
        daily_ax.legend(loc="best", fontsize=8, ncols=3, framealpha=0.8)
        daily_ax.yaxis.set_major_formatter(money)
        locator = AutoDateLocator()
        daily_ax.xaxis.set_major_locator(locator)
        daily_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        daily_ax.grid(alpha=0.3)

        h = series.hourly
        hourly_ax.set_title(f"hourly cost, {HOURS_AROUND} h either side of the onset", loc="left")
        if h.is_empty():
            hourly_ax.text(0.5, 0.5, "no hourly-grain charges for this resource around the onset (daily bill)",
                           ha="center", va="center", transform=hourly_ax.transAxes, color="#636363")
            hourly_ax.set_yticks([])
            hourly_ax.set_xticks([])
        else:
            hourly_ax.step(h["usage_hour"].to_list(), h["cost"].to_list(), where="post", color="#252525", linewidth=1)
            hourly_ax.axvline(onset, color="#cb181d", linewidth=1, linestyle=":")
            hourly_ax.set_ylabel(unit)
            hourly_ax.yaxis.set_major_formatter(money)
            hourly_locator = AutoDateLocator()
            hourly_ax.xaxis.set_major_locator(hourly_locator)
            hourly_ax.xaxis.set_major_formatter(ConciseDateFormatter(hourly_locator))
            hourly_ax.grid(alpha=0.3)
        # Fixed margins instead of tight_layout (which draws the figure once more: a third of the time).
        fig.subplots_adjust(left=0.075, right=0.985, top=0.87, bottom=0.075, hspace=0.42)
    return fig


def render_chart(series: ChartSeries) -> bytes:
    """The chart as PNG bytes, the same bytes for the same series (no date or software stamp)."""
    with rc_context(_STYLE):
        canvas = FigureCanvasAgg(chart_figure(series))
        canvas.draw()
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    # Pillow writes the PNG: no Software or date stamp. A 64-colour palette (octree: small areas such
    # as the red flagged days keep their colour; no dithering) is a third of the size and looks the same.
    small = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        small, format="PNG", optimize=True)
    return small.getvalue()


def chart_png(conn: duckdb.DuckDBPyConnection, anomaly_id: str, *, k_sigma: float, baseline_days: int,
              with_cause: bool = True) -> bytes:
    """chart_series + render_chart: one anomaly's control chart as PNG bytes."""
    return render_chart(chart_series(conn, anomaly_id, k_sigma=k_sigma, baseline_days=baseline_days,
                                     with_cause=with_cause))


# ---- Markdown for materialization metadata --------------------------------------------------

# Evidence keys that are money in the reporting currency (lib/routing/rules.py's evidence dict).
_MONEY_EVIDENCE = {"excess_cost", "actual_cost"}


def chart_section(series: ChartSeries, png: bytes) -> str:
    """One anomaly in Markdown: its title, its figures in the reporting currency, its chart."""
    a = series.anomaly
    return (f"**{md_code(chart_title(series))}**  \n"
            f"{a['anomaly_date']}: sigma {a['sigma']:.1f}, excess {format_money(a['excess_cost'], series.currency)} "
            f"over {a['days_elevated']} day(s), onset {a['detected_at']:%Y-%m-%d %H:%M} UTC\n\n"
            + markdown_image(png, f"control chart of anomaly {a['anomaly_id']}"))


def _evidence_value(key: str, value, currency: str | None) -> str:
    if key in _MONEY_EVIDENCE and isinstance(value, int | float):
        return format_money(value, currency)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return md_cell(value, limit=120)


def evidence_section(series: ChartSeries) -> str:
    """Routing's decision for the anomaly beside its chart: path, confidence, rationale and the
    evidence numbers it was decided on (those that are known). Every text read back from the warehouse
    (the rationale quotes commit messages and resource ids) is a code span (lib/common/text.py)."""
    if series.cause is None:
        return "_not routed yet_"
    cause = series.cause
    evidence = json.loads(cause["evidence"] or "{}")
    rows = [f"| {md_header(k)} | {_evidence_value(k, v, series.currency)} |"
            for k, v in sorted(evidence.items()) if v is not None]
    lines = [f"path **{md_code(cause['path'])}**, confidence **{md_code(cause['confidence'])}**"
             + (f", deployment {md_code(cause['deployment_id'])}" if cause.get("deployment_id") else ""),
             "", f"> {md_text(cause['rationale'], limit=1000) or '_no rationale_'}", ""]
    if rows:
        lines += ["| evidence | value |", "|---|---|", *rows]
    return "\n".join(lines)
