-- An amount as DECIMAL(38, 12) in the reporting currency, as exactly as the file wrote it: text
-- (CSV) and DECIMAL columns are cast directly; a FLOAT (float32) column through its own shortest
-- text (123456.78, not the 123456.78125 its widening to double gives); a DOUBLE at its shortest
-- decimal form, which below 1,000 DuckDB's direct cast gives too, several times faster (above, the
-- direct cast multiplies past 2^53 and drifts: 1e16 came back as 9999999999999999.603).
-- Converted amounts (rate <> 1) go through the double: rates are inexact anyway.
create or replace temp macro to_money(original, amount, rate) as
    case
        when rate = 1 and (typeof(original) = 'VARCHAR' or typeof(original) like 'DECIMAL%')
            then coalesce(try_cast(original as decimal(38, 12)), try_cast(amount::varchar as decimal(38, 12)))
        when rate = 1 and typeof(original) = 'FLOAT' then try_cast(original::varchar as decimal(38, 12))
        when abs(amount * rate) < 1000 then (amount * rate)::decimal(38, 12)
        else try_cast((amount * rate)::varchar as decimal(38, 12))
    end
