-- Anomalies per decided cause path, most first.
select path, count(*) as n from routing_decisions group by path order by n desc, path
