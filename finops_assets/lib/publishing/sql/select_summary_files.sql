-- Billing files by status, and the accepted rows a newer delivery replaced.
select status, count(*), coalesce(sum(rows_superseded), 0) from billing_files group by status order by status
