"""An anomaly's control chart: the points it is drawn from (by value, against the tables), the PNG
it becomes, money in the reporting currency, and `finops-assets chart`.

A hand-placed hourly bill for one resource (no generator, no Dagster run), rolled up by hand and
charted by the real detection SQL, as test_baseline_retraining.py does.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from finops_assets.cli import main
from finops_assets.lib.billing.currency import (
    record_reporting_currency,
    reporting_currency,
)
from finops_assets.lib.common.metadata import markdown_image
from finops_assets.lib.common.money import format_money
from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.detection.charts import (
    DAYS_AFTER,
    HOURS_AROUND,
    UnknownAnomalyError,
    chart_png,
    chart_series,
)
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
)

START = date(2025, 1, 6)          # a Monday
DAYS = 60
SPIKE_DAY = 38                    # a Thursday: the spike covers Thursday afternoon and Friday
SPIKE_HOUR = 14                   # from 14:00 UTC on the spike day, for two days
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DETECTION = DetectionSettings()
BASELINE_DAYS = DETECTION.baseline_window_days


def series_of(conn, anomaly_id: str, **changes):
    """chart_series with detection's default settings unless a test changes one."""
    return chart_series(conn, anomaly_id, **({"k_sigma": DETECTION.k_sigma, "baseline_days": BASELINE_DAYS} | changes))


def _hourly_cost(day: int, hour: int) -> float:
    if SPIKE_DAY <= day <= SPIKE_DAY + 1 and (day > SPIKE_DAY or hour >= SPIKE_HOUR):
        return 25.0
    return 4.0 + (hour % 3) * 0.5  # a little shape, the same every day


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    conn = duckdb.connect(str(path))
    for name in ("billing/create_billing_rollup", "billing/create_billing_rollup_hourly", "billing/create_focus_billing"):
        conn.execute(load_sql(name))
    conn.execute("create table incident_history (incident_id varchar, title varchar, started_at timestamp, "
                 "first_alert_at timestamp, resolved_at timestamp, affected_resources varchar, "
                 "affected_metrics varchar, root_cause varchar, resolution varchar)")
    hours = [datetime.combine(START, datetime.min.time()) + timedelta(hours=n) for n in range(DAYS * 24)]
    hourly = pl.DataFrame({"usage_hour": hours, "cost": [_hourly_cost(n // 24, n % 24) for n in range(DAYS * 24)]})
    conn.register("hourly_frame", hourly.to_arrow())
    conn.execute(
        "insert into billing_rollup_hourly (usage_hour, usage_date, hourly_grain, provider, billing_account_id, "
        "sub_account_id, department, team, service_name, resource_id, region_id, charge_category, billed_cost, "
        "effective_cost, list_cost, cost, consumed_quantity, line_items) select usage_hour, usage_hour::date, true, "
        "'AWS', 'a', 's', 'retail', 'checkout', 'EC2', 'i-1', 'us-east-1', 'Usage', cost, cost, cost, cost, 1, 1 "
        "from hourly_frame")
    conn.unregister("hourly_frame")
    conn.execute(
        "insert into billing_rollup (usage_date, provider, billing_account_id, sub_account_id, department, team, "
        "service_name, resource_id, region_id, charge_category, billed_cost, effective_cost, list_cost, cost, "
        "consumed_quantity, line_items) select usage_date, provider, billing_account_id, sub_account_id, department, "
        "team, service_name, resource_id, region_id, charge_category, sum(billed_cost), sum(effective_cost), "
        "sum(list_cost), sum(cost), sum(consumed_quantity), sum(line_items) from billing_rollup_hourly group by all")
    # Ingestion recorded EUR as the reporting currency; more rows were billed in USD at rate 1.0 (as a
    # foreign currency configured at 1.0 would be): the record decides, never the rows' majority.
    conn.execute(load_sql("billing/create_billing_reporting_currency"))
    record_reporting_currency(conn, "EUR", "setting")
    for row, (currency, rate) in enumerate([("EUR", 1.0), ("USD", 1.0), ("USD", 1.0), ("USD", 1.0)]):
        conn.execute("insert into focus_billing (source_file, source_row, row_key, charge_period_start, usage_date, "
                     "department, team, charge_category, billing_currency, exchange_rate, billed_cost) values "
                     "('f.csv', $r, $r, $day, $day, 'retail', 'checkout', 'Usage', $cur, $rate, 1)",
                     {"r": row, "day": START, "cur": currency, "rate": rate})
    build_baselines(conn, DetectionSettings())
    build_anomalies(conn, DetectionSettings())
    yield path, conn
    conn.close()


def _the_anomaly(conn) -> dict:
    rows = conn.execute("select anomaly_id, anomaly_date, last_elevated_date, detected_at from cost_anomalies").fetchall()
    assert len(rows) == 1, rows
    return dict(zip(["anomaly_id", "anomaly_date", "last_elevated_date", "detected_at"], rows[0], strict=True))


def test_the_series_are_the_resources_baseline_days_and_the_hours_around_the_onset(warehouse):
    _, conn = warehouse
    a = _the_anomaly(conn)
    assert a["anomaly_date"] == START + timedelta(days=SPIKE_DAY)
    series = series_of(conn, a["anomaly_id"], k_sigma=3.0)

    # Daily: the 28 days before the anomaly to 14 days after its last elevated day, one point a day.
    first, last = a["anomaly_date"] - timedelta(days=BASELINE_DAYS), a["last_elevated_date"] + timedelta(days=DAYS_AFTER)
    days = series.daily["usage_date"].to_list()
    assert days == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    shorter = series_of(conn, a["anomaly_id"], baseline_days=14).daily["usage_date"].to_list()
    assert shorter[0] == a["anomaly_date"] - timedelta(days=14) and shorter[-1] == last
    # The flagged days are cost_baselines' flagged days of the resource, the onset is detected_at.
    flagged = [r[0] for r in conn.execute("select usage_date from cost_baselines where resource_id = 'i-1' "
                                          "and is_flagged order by 1").fetchall()]
    assert series.flagged_days == flagged == [START + timedelta(days=SPIKE_DAY), START + timedelta(days=SPIKE_DAY + 1)]
    assert series.onset == a["detected_at"] == datetime.combine(a["anomaly_date"], datetime.min.time()) + timedelta(
        hours=SPIKE_HOUR)
    # The band is baseline +/- k robust standard deviations, for the k asked for.
    row = series.daily.filter(series.daily["usage_date"] == a["anomaly_date"]).row(0, named=True)
    assert row["actual_cost"] == pytest.approx(sum(_hourly_cost(SPIKE_DAY, h) for h in range(24)))
    assert row["band_high"] == pytest.approx(row["baseline_mean"] + 3.0 * row["baseline_std"])
    wider = series_of(conn, a["anomaly_id"], k_sigma=5.0).daily.filter(
        series.daily["usage_date"] == a["anomaly_date"]).row(0, named=True)
    assert wider["band_high"] == pytest.approx(row["baseline_mean"] + 5.0 * row["baseline_std"])

    # Hourly: 48 h either side of the onset, each hour's cost from billing_rollup_hourly.
    hours = series.hourly["usage_hour"].to_list()
    assert hours[0] == a["detected_at"] - timedelta(hours=HOURS_AROUND)
    assert hours[-1] == a["detected_at"] + timedelta(hours=HOURS_AROUND - 1)
    assert len(hours) == 2 * HOURS_AROUND
    onset_cost = series.hourly.filter(series.hourly["usage_hour"] == a["detected_at"])["cost"].item()
    before_cost = series.hourly.filter(series.hourly["usage_hour"] == a["detected_at"] - timedelta(hours=1))["cost"].item()
    assert (onset_cost, before_cost) == (25.0, _hourly_cost(SPIKE_DAY, SPIKE_HOUR - 1))
    assert series.currency == "EUR"


def test_another_resources_bill_is_not_in_its_chart(warehouse):
    _, conn = warehouse
    conn.execute("insert into billing_rollup_hourly select usage_hour, usage_date, hourly_grain, provider, "
                 "billing_account_id, sub_account_id, department, team, service_name, 'i-2', region_id, charge_category, "
                 "billed_cost * 100, effective_cost, list_cost, cost * 100, consumed_quantity, line_items "
                 "from billing_rollup_hourly where resource_id = 'i-1'")
    a = _the_anomaly(conn)
    series = series_of(conn, a["anomaly_id"])
    assert series.hourly["cost"].max() == 25.0


def test_the_cause_comes_from_routing_decisions_only_when_asked(warehouse):
    _, conn = warehouse
    a = _the_anomaly(conn)
    assert series_of(conn, a["anomaly_id"]).cause is None  # routing has not run: no table
    conn.execute("create table routing_decisions as select $id as anomaly_id, 'scheduled_job' as path, "
                 "'medium' as confidence, 'a batch' as rationale, '{}' as evidence, null::varchar as deployment_id",
                 {"id": a["anomaly_id"]})
    assert series_of(conn, a["anomaly_id"]).cause["path"] == "scheduled_job"
    assert series_of(conn, a["anomaly_id"], with_cause=False).cause is None


def test_the_chart_is_a_small_png_of_the_fixed_size_and_the_same_bytes_each_time(warehouse):
    _, conn = warehouse
    a = _the_anomaly(conn)
    png = chart_png(conn, a["anomaly_id"], k_sigma=3.0, baseline_days=BASELINE_DAYS)
    assert png.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    assert (width, height) == (800, 450)
    assert png[25] == 3  # colour type 3: a palette image, a third of the size of the RGBA one
    assert len(png) < 40_000
    assert b"Software" not in png and b"Matplotlib" not in png  # no stamp that changes between versions
    assert chart_png(conn, a["anomaly_id"], k_sigma=3.0, baseline_days=BASELINE_DAYS) == png
    image = markdown_image(png, "chart [1]")
    assert image.startswith("![chart (1)](data:image/png;base64,iVBORw0KGgo")


def test_an_unknown_anomaly_id_is_one_clear_error(warehouse, tmp_path):
    _, conn = warehouse
    with pytest.raises(UnknownAnomalyError, match="no anomaly 'nope' in cost_anomalies"):
        series_of(conn, "nope")
    empty = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(UnknownAnomalyError, match="no cost_anomalies table"):
        series_of(empty, "nope")
    assert reporting_currency(empty) is None
    empty.close()


def test_money_is_shown_in_the_reporting_currency():
    assert format_money(Decimal("1234.565"), "USD") == "USD 1,234.57"
    assert format_money(1234.5, "eur") == "EUR 1,234.50"
    assert format_money(-1234.5, "USD") == "USD -1,234.50"
    assert format_money(-0.001, "USD") == "USD 0.00"
    assert format_money(1234.5, "JPY") == "JPY 1,235"
    assert format_money(Decimal("1.2345"), "KWD") == "KWD 1.235"
    assert format_money(0.1 + 0.2, "USD") == "USD 0.30"
    assert format_money(12, None) == "12.00"
    assert format_money(None, "USD") == "n/a"
    assert format_money(Decimal("12345678901234567890.125"), "USD") == "USD 12,345,678,901,234,567,890.13"


def test_cli_writes_the_chart_and_says_one_line_when_it_cannot(warehouse, tmp_path, capsys):
    path, conn = warehouse
    anomaly_id = _the_anomaly(conn)["anomaly_id"]
    conn.close()
    out = tmp_path / "charts" / "a.png"
    assert main(["chart", anomaly_id, "--warehouse", str(path), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert str(out) in capsys.readouterr().out

    assert main(["chart", "nope", "--warehouse", str(path), "--out", str(tmp_path / "b.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no anomaly 'nope'") and "\n" not in err
    assert not (tmp_path / "b.png").exists()

    assert main(["chart", anomaly_id, "--warehouse", str(tmp_path / "missing.duckdb"), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no warehouse") and "\n" not in err
    assert not (tmp_path / "missing.duckdb").exists()  # a read-only look never creates a file


def test_cost_anomalies_metadata_embeds_the_chart_and_money_in_the_reporting_currency(warehouse, tmp_path):
    import base64

    import dagster as dg

    from finops_assets.defs.detection.assets import cost_anomalies
    from finops_assets.resources.settings import FinopsSettings
    from finops_assets.resources.warehouse import FinopsWarehouse

    path, conn = warehouse
    anomaly_id, excess = conn.execute("select anomaly_id, excess_cost from cost_anomalies").fetchall()[0]
    # The last run's decision: routing runs after cost_anomalies, so its chart must not show it.
    conn.execute("create table routing_decisions as select $id as anomaly_id, 'scheduled_job' as path, "
                 "'medium' as confidence, 'stale' as rationale, '{}' as evidence, null::varchar as deployment_id",
                 {"id": anomaly_id})
    conn.close()
    resources = {"warehouse": FinopsWarehouse(snapshot_path=str(tmp_path / "snapshot.duckdb"), writer_path=str(path)),
                 "settings": FinopsSettings(data_dir=str(tmp_path))}
    result = dg.materialize([cost_anomalies], resources=resources)
    metadata = result.asset_materializations_for_node("cost_anomalies")[0].metadata
    assert metadata["excess_cost_total"].value == pytest.approx(excess)
    assert metadata["excess_cost_total_text"].value == format_money(excess, "EUR")
    assert metadata["reporting_currency"].value == "EUR"
    assert format_money(excess, "EUR") in metadata["top_by_priority"].value
    charts = metadata["control_charts"].value
    assert anomaly_id in charts and "scheduled" not in charts  # no cause before routing has run
    encoded = charts.split("(data:image/png;base64,", 1)[1].split(")", 1)[0]
    png = base64.b64decode(encoded)
    assert png.startswith(PNG_SIGNATURE) and len(png) < 40_000


def test_routing_evidence_is_shown_with_money_in_the_currency_and_no_markup_from_the_data(warehouse):
    from finops_assets.lib.detection.charts import evidence_section

    _, conn = warehouse
    a = _the_anomaly(conn)
    assert evidence_section(series_of(conn, a["anomaly_id"])) == "_not routed yet_"
    evidence = '{"excess_cost": 1234.5, "sigma": 107.14, "quantity_ratio": 1.05, "traffic_ratio": null}'
    conn.execute("create table routing_decisions as select $id as anomaly_id, 'deployment_correlation' as path, "
                 "'high' as confidence, $why as rationale, $ev as evidence, 'dep-1' as deployment_id",
                 {"id": a["anomaly_id"], "why": "after acme@1234 ('*cache* off <img src=x>')\nreached production",
                  "ev": evidence})
    text = evidence_section(series_of(conn, a["anomaly_id"]))
    assert "path **`deployment_correlation`**, confidence **`high`**, deployment `dep-1`" in text
    assert "> `after acme@1234 ('*cache* off <img src=x>') reached production`" in text   # a code span: literal
    assert "| excess_cost | EUR 1,234.50 |" in text and "| sigma | 107.1 |" in text
    assert "| quantity_ratio | 1.05 |" in text and "traffic" not in text  # unknown evidence is left out


# ---- the reporting currency through the whole path, and the CLI's settings -------------------


def _usd_bill(path) -> None:
    """The fixture's hourly cost of resource i-1 as a FOCUS export billed wholly in USD."""
    from finops_assets_tests.billing.test_focus_ingest import line, write_csv

    start = datetime.combine(START, datetime.min.time())
    bill = []
    for n in range(DAYS * 24):
        hour = start + timedelta(hours=n)
        bill.append(line(cost=f"{_hourly_cost(n // 24, n % 24):.2f}",
                         ChargePeriodStart=f"{hour:%Y-%m-%dT%H:%M:%SZ}",
                         ChargePeriodEnd=f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"))
    write_csv(path, bill)


def test_a_usd_bill_reported_in_eur_shows_eur_everywhere(tmp_path, monkeypatch):
    """FINOPS_REPORTING_CURRENCY=EUR, every row billed in USD and converted by exchange_rates.csv: no
    row is at rate 1.0, yet focus_billing, cost_anomalies, the chart's axes and routing all say EUR."""
    import dagster as dg

    from finops_assets.defs.billing.assets import focus_billing
    from finops_assets.defs.detection.assets import cost_anomalies, cost_baselines
    from finops_assets.defs.resources import build_resources
    from finops_assets.lib.billing.rollup import rebuild_rollup_window
    from finops_assets.lib.detection.charts import chart_figure
    from finops_assets.lib.inputs.side_inputs import (
        SIDE_INPUTS,
        ParsedInput,
        write_side_input,
    )
    from finops_assets.lib.routing import decisions

    data = tmp_path / "data"
    (data / "billing").mkdir(parents=True)
    _usd_bill(data / "billing" / "usd.csv")
    (data / "exchange_rates.csv").write_text("currency,rate\nUSD,0.9\n")
    resources = build_resources({"FINOPS_REPORTING_CURRENCY": "EUR", "FINOPS_DATA_DIR": str(data),
                                 "FINOPS_WAREHOUSE": str(tmp_path / "w" / "finops.duckdb")})
    billed = dg.materialize([focus_billing], resources=resources).asset_materializations_for_node("focus_billing")
    assert billed[0].metadata["reporting_currency"].value == "EUR"
    assert billed[0].metadata["billed_cost_total_text"].value.startswith("EUR ")
    with resources["warehouse"].write() as conn:
        assert conn.execute("select count(*) from focus_billing where exchange_rate = 1.0").fetchall() == [(0,)]
        for table in ("billing_rollup", "billing_rollup_hourly"):
            rebuild_rollup_window(conn, table, START, START + timedelta(days=DAYS), "auto")
        for spec in SIDE_INPUTS.values():  # incident_history and the other side inputs, empty
            write_side_input(conn, ParsedInput(spec, []))

    result = dg.materialize([cost_baselines, cost_anomalies], resources=resources)
    metadata = result.asset_materializations_for_node("cost_anomalies")[0].metadata
    assert metadata["dagster/row_count"].value == 1
    assert metadata["reporting_currency"].value == "EUR"
    assert metadata["excess_cost_total_text"].value.startswith("EUR ")
    assert "| EUR " in metadata["top_by_priority"].value.replace("`", "")
    assert f"excess {metadata['excess_cost_total_text'].value} " in metadata["control_charts"].value

    contexts = []

    def spy(a, context, settings):
        contexts.append(context)
        return decide(a, context, settings)

    decide = decisions.decide
    monkeypatch.setattr(decisions, "decide", spy)
    with resources["warehouse"].write() as conn:
        anomaly_id = conn.execute("select anomaly_id from cost_anomalies").fetchall()[0][0]
        figure = chart_figure(series_of(conn, anomaly_id))
        decisions.route_anomalies(conn, DETECTION)
    assert [ax.get_ylabel() for ax in figure.axes] == ["cost (EUR)", "cost (EUR)"]
    assert [c.currency for c in contexts] == ["EUR"]


def test_cli_chart_takes_the_band_and_the_window_from_the_settings(warehouse, tmp_path, monkeypatch):
    path, conn = warehouse
    anomaly_id = _the_anomaly(conn)["anomaly_id"]
    wide = chart_png(conn, anomaly_id, k_sigma=5.0, baseline_days=BASELINE_DAYS)
    conn.close()
    out = tmp_path / "a.png"
    monkeypatch.setenv("FINOPS_K_SIGMA", "5")
    assert main(["chart", anomaly_id, "--warehouse", str(path), "--out", str(out)]) == 0
    assert out.read_bytes() == wide
    assert main(["chart", anomaly_id, "--warehouse", str(path), "--out", str(out), "--k-sigma", "3"]) == 0
    assert out.read_bytes() != wide  # the flag still overrides the band


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf"])
def test_cli_chart_says_a_bad_setting_in_the_run_commands_one_line(warehouse, tmp_path, monkeypatch, capsys, value):
    path, conn = warehouse
    anomaly_id = _the_anomaly(conn)["anomaly_id"]
    conn.close()
    monkeypatch.setenv("FINOPS_K_SIGMA", value)
    out = tmp_path / "a.png"
    assert main(["chart", anomaly_id, "--warehouse", str(path), "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"error: FINOPS_K_SIGMA must be a number > 0, got {value!r}\n"
    assert not out.exists()


def test_cli_chart_refuses_a_bad_k_sigma_flag_naming_it(warehouse, tmp_path, capsys):
    path, _ = warehouse
    with pytest.raises(SystemExit) as exit_:
        main(["chart", "a-1", "--warehouse", str(path), "--out", str(tmp_path / "a.png"), "--k-sigma", "abc"])
    assert exit_.value.code == 2
    assert "argument --k-sigma: must be a number > 0, got 'abc'" in capsys.readouterr().err
