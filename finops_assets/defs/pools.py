# Every step that opens the warehouse runs in this pool; dagster.yaml limits it to one at a time,
# because DuckDB allows a single read-write process per file.
DUCKDB_WRITE_POOL = "duckdb_write"
