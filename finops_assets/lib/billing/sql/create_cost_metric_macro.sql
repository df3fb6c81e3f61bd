-- 'auto': effective cost where the export fills it (billing_cost_basis decides per provider and
-- billing account), else billed cost. In such an export a usage row without EffectiveCost falls back
-- to its billed cost, but a purchase without one counts 0: in the amortized view a commitment's price
-- is in the usage it covers, and counting its BilledCost too would count it twice.
create or replace temp macro cost_metric(metric, billed, effective, list, effective_trusted, category) as
    case metric
        when 'billed' then billed
        when 'effective' then coalesce(effective, 0)
        when 'list' then coalesce(list, billed)
        else case
            when not coalesce(effective_trusted, false) then billed
            when effective is not null then effective
            when category = 'Purchase' then 0
            else billed
        end
    end
