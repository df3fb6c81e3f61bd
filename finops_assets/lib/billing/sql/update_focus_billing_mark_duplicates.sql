-- The same line item delivered again: a row is superseded only by a row of a NEWER DELIVERY that
-- equals it in every column but the money (so a restated re-delivery replaces old costs instead of
-- adding to them), and rows of one delivery (its part files) never supersede each other. Equal rows
-- are matched one to one in order (the k-th copy by the k-th), so nothing is dropped without a
-- counterpart. A delivery's recency is its newest file's mtime. row_key (a hash of the identity)
-- only narrows the candidates cheaply; the identity itself is compared.
update focus_billing
set is_duplicate = true
from (
    with deliveries as (
        select delivery, row_number() over (order by max(file_mtime_ns), delivery) as delivery_rank
        from billing_files group by delivery
    ),
    candidates as (
        select
            f.source_file, f.source_row, d.delivery, d.delivery_rank,
            row(f.charge_period_start, f.charge_period_end, f.billing_period_start, f.billing_period_end,
                f.provider_name, f.publisher_name, f.host_provider_name, f.invoice_issuer_name,
                f.billing_account_id, f.billing_account_name, f.sub_account_id, f.sub_account_name,
                f.charge_category, f.charge_class, f.charge_frequency, f.charge_description, f.pricing_category,
                f.service_category, f.service_name, f.sku_id, f.sku_price_id, f.resource_id, f.resource_name,
                f.resource_type, f.region_id, f.availability_zone, f.commitment_discount_id,
                f.commitment_discount_status, f.commitment_discount_type, f.billing_currency,
                f.pricing_quantity, f.pricing_unit, f.consumed_quantity, f.consumed_unit, f.tags) as identity
        from focus_billing f
        join billing_files b using (source_file)
        join deliveries d on d.delivery = b.delivery
        where f.row_key in (
            select row_key from focus_billing group by row_key having min(source_file) <> max(source_file)
        )
    ),
    numbered as (
        select *, row_number() over (partition by delivery, identity order by source_file, source_row) as occurrence
        from candidates
    ),
    newest as (
        select identity, occurrence, max(delivery_rank) as keeper_rank
        from numbered group by identity, occurrence having count(distinct delivery) > 1
    )
    select n.source_file, n.source_row
    from numbered n
    join newest k on k.identity is not distinct from n.identity and k.occurrence = n.occurrence
    where n.delivery_rank < k.keeper_rank
) superseded
where focus_billing.source_file = superseded.source_file and focus_billing.source_row = superseded.source_row
