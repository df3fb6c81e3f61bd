import os

import dagster as dg

# The first day of billing the UI offers; set FINOPS_PARTITION_START for older bills.
PARTITION_START = os.environ.get("FINOPS_PARTITION_START", "2020-01-01")

# end_offset=1: today's partition exists, because hourly bills already carry today's charges.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
