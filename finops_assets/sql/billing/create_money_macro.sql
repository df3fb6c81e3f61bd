-- An amount as DECIMAL(38, 12) in the reporting currency. In the bill's own currency it is parsed
-- from the text as written (exact); converted amounts go through the double (rates are inexact).
create or replace temp macro to_money(original, amount, rate) as
    case when rate = 1
         then coalesce(try_cast(original::varchar as decimal(38, 12)), try_cast(amount::varchar as decimal(38, 12)))
         else try_cast((amount * rate)::varchar as decimal(38, 12))
    end
