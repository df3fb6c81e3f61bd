-- An amount as DECIMAL(38, 12) in the reporting currency. Text (CSV) is parsed as written (exact).
-- A binary double (Parquet, or after conversion) is taken at its shortest decimal form; below 1,000
-- DuckDB's direct cast gives the same 12 places and is several times faster than going through text
-- (above, it multiplies past 2^53 and drifts: 1e16 came back as 9999999999999999.603).
create or replace temp macro to_money(original, amount, rate) as
    case
        when rate = 1 and typeof(original) = 'VARCHAR'
            then coalesce(try_cast(original as decimal(38, 12)), try_cast(amount::varchar as decimal(38, 12)))
        when abs(amount * rate) < 1000 then (amount * rate)::decimal(38, 12)
        else try_cast((amount * rate)::varchar as decimal(38, 12))
    end
