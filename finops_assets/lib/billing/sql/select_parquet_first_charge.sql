-- The smallest ChargePeriodStart in Parquet files, read from their row-group statistics only
-- (no data page is read), as text: '2026-06-01 00:00:00+00' for a timestamp column.
select min(stats_min_value) from parquet_metadata($files) where lower(path_in_schema) = 'chargeperiodstart'
