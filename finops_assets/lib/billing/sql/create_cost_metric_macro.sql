-- 'auto': effective cost where the export fills it (billing_cost_basis decides per provider and
-- billing account), else billed cost; a missing EffectiveCost on one row falls back to its billed.
create or replace temp macro cost_metric(metric, billed, effective, list, effective_trusted) as
    case metric
        when 'billed' then billed
        when 'effective' then coalesce(effective, 0)
        when 'list' then coalesce(list, billed)
        else case when effective_trusted then coalesce(effective, billed) else billed end
    end
