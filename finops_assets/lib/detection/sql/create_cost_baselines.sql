-- The control chart per resource and day (filled bucket by bucket by insert_cost_baselines_bucket.sql).
create or replace table cost_baselines (
    resource_id varchar not null,
    usage_date date not null,
    sub_account_id varchar,
    department varchar,
    team varchar,
    service_name varchar,
    region_id varchar,
    first_day date not null,
    actual_cost double not null,
    quantity double,
    baseline_mean double,
    baseline_std double,
    baseline_unit_cost double,
    is_weekend boolean not null,
    in_incident boolean not null,
    method varchar not null,
    sigma double,
    excess_cost double,
    cost_pct_change double,
    is_flagged boolean not null
)
