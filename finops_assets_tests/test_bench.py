from finops_assets.lib.bench import run_ingestion_bench


def test_bench_measures_both_formats_and_our_totals_match_duckdbs(tmp_path, capsys):
    results = run_ingestion_bench(rows=30_000, work_dir=tmp_path, formats=["parquet", "csv"])
    assert [r["format"] for r in results] == ["parquet", "csv"]
    for result in results:  # run_ingestion_bench raises if our billed total differs from DuckDB's
        assert result["rows"] == 30_000 and result["ours_s"] > 0 and result["floor_s"] > 0
        assert result["ours_peak_rss_mb"] > 0
    assert "ratio=" in capsys.readouterr().out
