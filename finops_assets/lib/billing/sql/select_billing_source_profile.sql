-- One narrow scan per file: rows read, and the distinct Tags and currencies to resolve in Python.
select tags, billing_currency, count(*) as row_count
from focus_source
group by all
