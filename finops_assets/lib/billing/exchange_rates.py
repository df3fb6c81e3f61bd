"""exchange_rates.csv (currency,rate: reporting-currency units per unit of currency), read strictly.

A rate of 0 zeroes the spend, a negative one negates it, NaN poisons every sum: a bad rate is
refused with the file, line and rule (exchange_rate_invalid), and the rows in that currency are
quarantined rather than converted. Two different rates for one currency are ambiguous: refused too.
"""

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Real rates span about 1e-5 (VND in USD) to 1e5 (USD in IRR); far outside is a typo or a hostile file.
PLAUSIBLE_RATES = (1e-9, 1e9)


@dataclass(frozen=True)
class ExchangeRates:
    rates: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # currency -> why its rows are quarantined
    problems: list[str] = field(default_factory=list)       # one line each, for the run log


def read_exchange_rates(path: Path) -> ExchangeRates:
    if not path.exists():
        return ExchangeRates()
    rates: dict[str, float] = {}
    refused: dict[str, str] = {}
    problems: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel writes a BOM
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"currency", "rate"} <= {(f or "").strip().lower() for f in reader.fieldnames}:
                return ExchangeRates(problems=[f"{path}: header must have columns currency,rate "
                                               f"(got {reader.fieldnames}): no rate is used"])
            for line_number, row in enumerate(reader, start=2):
                row = {(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else v for k, v in row.items()}
                currency, text = (row.get("currency") or "").upper(), row.get("rate") or ""
                where = f"{path}: line {line_number}"
                if not _CURRENCY.match(currency):
                    problems.append(f"{where}: currency_invalid: {currency!r} is not a 3-letter ISO 4217 code")
                    continue
                try:
                    rate = float(text)
                except ValueError:
                    rate = math.nan
                if not (math.isfinite(rate) and rate > 0):
                    reason = f"{where}: exchange_rate_invalid: rate {text!r} for {currency} must be a finite number > 0"
                elif not PLAUSIBLE_RATES[0] <= rate <= PLAUSIBLE_RATES[1]:
                    reason = (f"{where}: exchange_rate_invalid: rate {text!r} for {currency} is outside the plausible "
                              f"{PLAUSIBLE_RATES[0]:g} .. {PLAUSIBLE_RATES[1]:g}")
                elif currency in rates and rates[currency] != rate:
                    reason = (f"{where}: exchange_rate_invalid: {currency} has two rates "
                              f"({rates[currency]!r} and {rate!r})")
                elif currency in refused:
                    continue
                else:
                    rates[currency] = rate
                    continue
                problems.append(reason)
                refused.setdefault(currency, reason)
                rates.pop(currency, None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return ExchangeRates(problems=[f"{path}: cannot be read ({exc}): no rate is used"])
    return ExchangeRates(rates, refused, problems)
