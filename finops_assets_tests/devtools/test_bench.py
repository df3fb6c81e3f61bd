from finops_devtools.bench.ingestion import run_ingestion_bench


def test_bench_measures_both_formats_and_our_totals_match_duckdbs(tmp_path, capsys):
    results = run_ingestion_bench(rows=5_000, work_dir=tmp_path, formats=["parquet", "csv"])
    assert [r["format"] for r in results] == ["parquet", "csv"]
    for result in results:  # run_ingestion_bench raises if our billed total differs from DuckDB's
        assert result["rows"] == 5_000 and result["ours_s"] > 0 and result["floor_s"] > 0
        assert result["ours_peak_rss_mb"] > 0
    assert "ratio=" in capsys.readouterr().out


def test_detection_bench_finds_the_injected_spikes_and_blames_their_deployments(tmp_path, capsys):
    from finops_assets.cli import main

    assert main(["bench", "--detection", "--resources", "1500", "--days", "80", "--anomalies", "100",
                 "--deployments", "1000", "--work-dir", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    figures = dict(part.split("=") for part in line.split()[1:])
    # Two-day tripling on 100 resources: nearly all found, each explained by the deployment 30 min before.
    assert 90 <= int(figures["anomalies"]) <= 110
    assert int(figures["routed_to_deployment"]) >= 90
    assert float(figures["baselines_s"]) > 0 and float(figures["routing_and_correlation_s"]) > 0
