"""What cost_anomalies and routing_decisions show about their top anomalies: the same anomalies, chosen
deterministically, and the routing evidence beside each chart with every outside text literal (a resource id,
a rationale quoting a commit message, evidence values): no link, image or HTML, the evidence table keeps its
two columns, and a `$` in a resource id does not break the chart's title (matplotlib mathtext)."""

import json
from datetime import date, datetime

import duckdb
import polars as pl

from finops_assets.lib.common.text import one_line
from finops_assets.lib.detection.charts import (
    ChartSeries,
    chart_section,
    evidence_section,
    render_chart,
)
from finops_assets.lib.detection.priority import TOP_ANOMALIES, top_anomaly_ids
from finops_assets_tests.standins.markdown import (
    HOSTILE,
    assert_inert,
    inline_children,
    parse,
    table_rows,
)


def _series(resource_id: str, cause: dict | None) -> ChartSeries:
    anomaly = {"anomaly_id": "a1", "resource_id": resource_id, "anomaly_date": date(2026, 3, 2), "sigma": 7.25,
               "excess_cost": 1234.5, "days_elevated": 2, "detected_at": datetime(2026, 3, 2, 14)}
    daily = pl.DataFrame({"usage_date": [date(2026, 3, 1), date(2026, 3, 2)], "actual_cost": [4.0, 25.0],
                          "baseline_mean": [4.0, 4.0], "baseline_std": [0.5, 0.5], "band_low": [2.5, 2.5],
                          "band_high": [5.5, 5.5], "is_flagged": [False, True], "method": ["weekday", "weekday"]})
    hourly = pl.DataFrame({"usage_hour": [datetime(2026, 3, 2, 13), datetime(2026, 3, 2, 14)], "cost": [4.0, 25.0]})
    return ChartSeries(anomaly=anomaly, daily=daily, hourly=hourly, currency="EUR", cause=cause, k_sigma=3.0)


def test_the_evidence_section_shows_outside_text_literally_and_keeps_its_table():
    evidence = {"excess_cost": 1234.5, "sigma": 107.14, "commit_message": HOSTILE, f"k | {HOSTILE}": "www.x.example",
                "traffic_ratio": None}
    cause = {"path": HOSTILE, "confidence": "high", "rationale": HOSTILE, "evidence": json.dumps(evidence),
             "deployment_id": HOSTILE}
    series = _series(HOSTILE, cause)
    markdown = evidence_section(series)
    tokens = parse(markdown)
    assert_inert(tokens)
    rows = table_rows(tokens)
    assert all(len(r) == 2 for r in rows) and len(rows) == 1 + 4   # header + the 4 known values
    assert ["commit_message", one_line(HOSTILE, 120)] in rows
    assert [one_line(f"k | {HOSTILE}"), "www.x.example"] in rows
    assert ["excess_cost", "EUR 1,234.50"] in rows
    quote = [t for t in tokens if t.type == "blockquote_open"]
    assert len(quote) == 1 and markdown.count("\n> ") == 1   # the rationale is one quoted line, not a block
    codes = [c.content for t in tokens if t.type == "inline" for c in t.children if c.type == "code_inline"]
    assert codes.count(one_line(HOSTILE)) == 3   # path, deployment and rationale, each shown as typed
    title = parse(chart_section(series, b"png"))
    assert_inert(title, own_images=1)
    assert [c.content for c in inline_children(title) if c.type == "code_inline"] == [one_line(
        f"a1 \u00b7 {one_line(HOSTILE, 64)} \u00b7 {HOSTILE} (high)")]   # the title, as one code span


def test_a_dollar_in_the_resource_id_is_drawn_as_text_not_mathtext():
    png = render_chart(_series(r"i-1 $\frac{a$ $\undefinedcmd$", None))
    assert png.startswith(b"\x89PNG")


def test_the_top_anomalies_are_by_priority_then_id_and_the_same_for_both_assets():
    conn = duckdb.connect()
    conn.execute("create table cost_anomalies (anomaly_id varchar, priority_score double)")
    conn.execute("insert into cost_anomalies values ('c', 2.0), ('b', 9.0), ('e', 2.0), ('a', 2.0), ('d', null)")
    assert top_anomaly_ids(conn, 3) == ["b", "a", "c"]
    assert top_anomaly_ids(conn, 10) == ["b", "a", "c", "e", "d"]
    conn.execute("create table shuffled as select * from cost_anomalies order by anomaly_id desc")
    conn.execute("drop table cost_anomalies")
    conn.execute("alter table shuffled rename to cost_anomalies")
    assert top_anomaly_ids(conn, 3) == ["b", "a", "c"]   # not the order the rows were written in
    assert top_anomaly_ids(conn) == top_anomaly_ids(conn, TOP_ANOMALIES) and TOP_ANOMALIES == 5
