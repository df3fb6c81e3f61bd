-- 'auto': effective cost where the bill carries it, billed cost where it is missing or zero
-- (AWS's FOCUS sample has EffectiveCost 0 on 931 of 942 rows).
create or replace temp macro cost_metric(metric, billed, effective, list) as
    case metric
        when 'billed' then billed
        when 'effective' then coalesce(effective, 0)
        when 'list' then coalesce(list, billed)
        else case when effective is null or effective = 0 then billed else effective end
    end
