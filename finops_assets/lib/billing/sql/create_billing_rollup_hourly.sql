create table if not exists billing_rollup_hourly (
    usage_hour timestamp not null,
    usage_date date not null,
    hourly_grain boolean not null,      -- false: the charge covers more than an hour (booked at its start)
    provider varchar,
    billing_account_id varchar,
    sub_account_id varchar,
    department varchar not null,
    team varchar not null,
    service_name varchar,
    resource_id varchar,
    region_id varchar,
    charge_category varchar not null,
    billed_cost decimal(38, 12) not null,
    effective_cost decimal(38, 12),
    list_cost decimal(38, 12),
    cost decimal(38, 12) not null,
    consumed_quantity double,
    line_items bigint not null
)
