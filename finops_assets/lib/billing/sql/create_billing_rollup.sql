create table if not exists billing_rollup (
    usage_date date not null,
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
    cost decimal(38, 12) not null,               -- the detection metric chosen by FINOPS_COST_METRIC
    consumed_quantity double,
    line_items bigint not null
)
