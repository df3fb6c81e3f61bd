-- Per loaded file: rows read (counted at ingestion) vs rows now in the accepted and quarantine tables.
select
    m.source_file,
    m.rows_read,
    coalesce(a.n, 0) as rows_accepted,
    coalesce(q.n, 0) as rows_quarantined,
    m.rows_read - coalesce(a.n, 0) - coalesce(q.n, 0) as rows_unaccounted
from billing_files m
left join (select source_file, count(*) as n from focus_billing group by 1) a using (source_file)
left join (select source_file, count(*) as n from billing_quarantine group by 1) q using (source_file)
where m.fingerprint <> '' or m.rows_read > 0
order by m.source_file
