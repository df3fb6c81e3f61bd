-- Quarantined billing rows per rule, most first.
select rule, count(*) as n from billing_quarantine group by rule order by n desc, rule
