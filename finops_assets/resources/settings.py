"""Where the inputs are and how to read them: one resource, filled from FINOPS_* variables."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from finops_assets.lib.billing.exchange_rates import ExchangeRates, read_exchange_rates
from finops_assets.lib.billing.ingest import DEFAULT_MAX_LINE_ITEM_COST, IngestSettings
from finops_assets.lib.billing.owners import (
    DEFAULT_DEPARTMENT_KEYS,
    DEFAULT_TEAM_KEYS,
    OwnerRules,
)
from finops_assets.lib.detection.pipeline import DetectionSettings


class FinopsSettings(dg.ConfigurableResource):
    """The data folder (DESIGN.md section 3) and the rules for reading the bill."""

    data_dir: str = Field(default="data", description="Folder with billing/, deployments/, team_repositories.csv, ...")
    department_tag_keys: list[str] = Field(default=list(DEFAULT_DEPARTMENT_KEYS),
                                           description="Tag keys naming the department, in priority order")
    team_tag_keys: list[str] = Field(default=list(DEFAULT_TEAM_KEYS),
                                     description="Tag keys naming the team, in priority order")
    cost_metric: str = Field(default="auto", description="auto | effective | billed | list")
    reporting_currency: str = Field(default="", description="Empty: USD if the bill has USD rows, else the "
                                                            "currency of the first file delivered")
    max_line_item_cost: float = Field(default=DEFAULT_MAX_LINE_ITEM_COST,
                                      description="Larger amounts on one line item are quarantined (cost_implausible)")
    k_sigma: float = Field(default=3.0, description="Control limit in robust standard deviations")
    dollar_floor: float = Field(default=10.0, description="Minimum daily excess over baseline to flag")
    pct_floor: float = Field(default=0.2, description="Minimum daily excess over baseline, as a share")
    deployment_window_hours: float = Field(default=6.0, description="Deployment correlation window (2 to 24 h)")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def billing_dir(self) -> Path:
        return self.data_path / "billing"

    def exchange_rates(self) -> ExchangeRates:
        """Optional exchange_rates.csv (currency,rate): reporting-currency units per unit."""
        return read_exchange_rates(self.data_path / "exchange_rates.csv")

    def detection_settings(self) -> DetectionSettings:
        return DetectionSettings(k_sigma=self.k_sigma, dollar_floor=self.dollar_floor, pct_floor=self.pct_floor,
                                 window_hours=self.deployment_window_hours, cost_metric=self.cost_metric)

    def ingest_settings(self, rates: ExchangeRates | None = None) -> IngestSettings:
        rates = rates or self.exchange_rates()
        return IngestSettings(
            owner_rules=OwnerRules(tuple(self.department_tag_keys), tuple(self.team_tag_keys)),
            reporting_currency=self.reporting_currency or None,
            exchange_rates=rates.rates,
            refused_exchange_rates=rates.refused,
            max_line_item_cost=self.max_line_item_cost,
        )
