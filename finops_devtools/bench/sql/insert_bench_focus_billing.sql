-- Bill rows for the spiking resources from three days before their spike to a day after: what the
-- routing evidence reads.
insert into focus_billing (source_file, source_row, row_key, is_duplicate, charge_period_start, charge_period_end,
                          usage_date, provider_name, publisher_name, sub_account_id, department, team, charge_category,
                          pricing_category, service_category, service_name, sku_id, sku_price_id, resource_id,
                          resource_type, region_id, billing_currency, exchange_rate, billed_cost, effective_cost,
                          list_cost, list_unit_price, pricing_quantity, consumed_quantity, tags)
select
    'bench', row_number() over (), hash(r, hour_ts), false, hour_ts, hour_ts + interval 1 hour, hour_ts::date,
    'AWS', 'AWS', 'acct-' || (r % 60), 'dept-' || (r % 10), 'team-' || (r % 200), 'Usage', 'Standard', 'Compute',
    'service-' || (r % 40), 'm6i.xlarge', 'm6i.xlarge:0.19', 'res-' || r, 'Instance', 'us-east-1', 'USD', 1.0,
    cost, cost, cost, 0.19, cost / 0.19, cost / 0.19, '{"service": "repo-' || (r % 200) || '"}'
from (
    select r, hour_ts,
        (5 + r % 200) / 24.0 * (case when hour_ts >= spike + interval 13 hour and hour_ts < spike + interval 48 hour then 3.0 else 1.0 end) as cost
    from (select r, (date '2026-01-01' + ($days - 40 + r % 30)::integer)::timestamp as spike
          from range(0, $resources, $resources // $anomalies) t(r)),
         lateral (select unnest(generate_series(spike - interval 3 day, spike + interval 47 hour, interval 1 hour)) as hour_ts)
)
