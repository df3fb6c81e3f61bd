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
    billed_cost double not null,
    effective_cost double,
    list_cost double,
    cost double not null,               -- the detection metric chosen by FINOPS_COST_METRIC
    consumed_quantity double,
    line_items bigint not null
)
