-- Rows $first .. $first + $count - 1 of a synthetic hourly FOCUS 1.2 bill: 50,000 resources over
-- 180 days, each row one resource-hour (row i is resource i % 50000 at hour i / 50000), so no two
-- rows share an identity across files. Costs vary per row; owners come from a pool of 200 tag sets.
select
    'us-east-1' || chr(97 + (r % 3)::int) as AvailabilityZone,
    round(0.01 + (hash(i) % 100000) / 20000.0, 6) as BilledCost,
    'billing-acct-1' as BillingAccountId,
    'Example Corp' as BillingAccountName,
    'USD' as BillingCurrency,
    date_trunc('month', ts) + interval 1 month as BillingPeriodEnd,
    date_trunc('month', ts) as BillingPeriodStart,
    case when i % 997 = 0 then 'Tax' else 'Usage' end as ChargeCategory,
    'Usage-Based' as ChargeFrequency,
    'Compute usage for resource ' || (r % 1000)::varchar as ChargeDescription,
    ts + interval 1 hour as ChargePeriodEnd,
    ts as ChargePeriodStart,
    1.0 as ConsumedQuantity,
    'Hours' as ConsumedUnit,
    round(0.01 + (hash(i) % 100000) / 22000.0, 6) as EffectiveCost,
    round(0.01 + (hash(i) % 100000) / 18000.0, 6) as ListCost,
    'AWS' as ProviderName,
    'AWS' as PublisherName,
    'Standard' as PricingCategory,
    'us-east-1' as RegionId,
    'i-' || lpad(r::varchar, 8, '0') as ResourceId,
    'service-' || (r % 40)::varchar as ServiceName,
    'sku-' || (r % 300)::varchar as SkuId,
    'sku-' || (r % 300)::varchar || '-price' as SkuPriceId,
    'acct-' || (r % 60)::varchar as SubAccountId,
    '{"department": "dept-' || (r % 8)::varchar || '", "team": "team-' || (r % 200)::varchar || '"}' as Tags
from (
    select i, i % 50000 as r, timestamp '2026-04-01' + (i // 50000) * interval 1 hour as ts
    from range($first, $first + $count) t(i)
)
