"""Where the inputs are and how to read them: one resource, filled from FINOPS_* variables."""

import csv
from pathlib import Path

import dagster as dg
from pydantic import Field

from finops_assets.lib.focus_ingest import IngestSettings
from finops_assets.lib.owners import DEFAULT_DEPARTMENT_KEYS, DEFAULT_TEAM_KEYS, OwnerRules


class FinopsSettings(dg.ConfigurableResource):
    """The data folder (DESIGN.md section 3) and the rules for reading the bill."""

    data_dir: str = Field(default="data", description="Folder with billing/, deployments/, team_repositories.csv, ...")
    department_tag_keys: list[str] = Field(default=list(DEFAULT_DEPARTMENT_KEYS),
                                           description="Tag keys naming the department, in priority order")
    team_tag_keys: list[str] = Field(default=list(DEFAULT_TEAM_KEYS),
                                     description="Tag keys naming the team, in priority order")
    cost_metric: str = Field(default="auto", description="auto | effective | billed | list")
    reporting_currency: str = Field(default="", description="Empty: the currency of most rows in the bill")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def billing_dir(self) -> Path:
        return self.data_path / "billing"

    def exchange_rates(self) -> dict[str, float]:
        """Optional exchange_rates.csv (currency,rate): reporting-currency units per unit."""
        path = self.data_path / "exchange_rates.csv"
        if not path.exists():
            return {}
        rates = {}
        with path.open(newline="") as handle:
            for line_number, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    rates[row["currency"].strip().upper()] = float(row["rate"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ValueError(f"{path}: line {line_number}: needs columns currency,rate with a numeric rate ({exc})") from exc
        return rates

    def ingest_settings(self) -> IngestSettings:
        return IngestSettings(
            owner_rules=OwnerRules(tuple(self.department_tag_keys), tuple(self.team_tag_keys)),
            reporting_currency=self.reporting_currency or None,
            exchange_rates=self.exchange_rates(),
        )
