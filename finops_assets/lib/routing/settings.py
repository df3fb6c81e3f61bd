"""The thresholds the routing rules decide with: one named field each, defaults as the seeds set them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RoutingSettings:
    # new_spend_in_new_place
    new_resource_max_age_days: int = 2              # a resource first billed at most this many days before the anomaly is new
    # commitment_coverage_drop
    committed_share_before_min: float = 0.5         # commitments covered at least this share of usage before the onset ...
    committed_share_after_max: float = 0.1          # ... and at most this share after it
    # third_party_price_rise, price_tier_change, sku_or_type_change
    price_rise_ratio_min: float = 1.1               # unit price after / before at least this is a price change
    smooth_quantity_ratio_min: float = 0.8          # quantity after / before within [min, max] is "usage did not change"
    smooth_quantity_ratio_max: float = 1.25
    # traffic_growth
    # (requests and cost over the same days: the episode's against the same weekdays before the rise)
    traffic_ratio_min: float = 1.25                 # requests after / before at least this is traffic growth ...
    traffic_ratio_high: float = 1.5                 # ... with high confidence from this ratio on ...
    traffic_unit_cost_tolerance: float = 0.2        # ... when cost per request rose at most this share (flat)
    # batch_burst
    batch_max_hours: int = 8                        # a burst of at most this many hours, back to normal the same day
    # sharp_step_* rules
    sharp_step_ratio_min: float = 1.4               # the 3 hours from onset against the 3 before: a step from this ratio
    sharp_level_ratio_min: float = 1.5              # ... or against the hour-of-day baseline from this ratio
    onset_hour_grace_minutes: float = 60.0          # a deployment inside the onset hour counts (an hourly bill has no minutes)
    # gradual_rise_after_deployment
    latent_min_minutes: float = 60.0                # a latent change landed at least this long before the onset ...
    rising_min_days: int = 2                        # ... and the cost stayed elevated at least this many days
    # deployment confidence bands (seed 000)
    high_confidence_minutes: float = 60.0           # 'high' when the deployment is at most this long before the onset
    medium_confidence_minutes: float = 240.0        # 'medium' up to this, else 'low'

    def __post_init__(self):
        if not self.smooth_quantity_ratio_min <= 1 <= self.smooth_quantity_ratio_max:
            raise ValueError("smooth_quantity_ratio_min must be <= 1 <= smooth_quantity_ratio_max, got "
                             f"{self.smooth_quantity_ratio_min} and {self.smooth_quantity_ratio_max}")
        if not self.traffic_ratio_min <= self.traffic_ratio_high:
            raise ValueError(f"traffic_ratio_min ({self.traffic_ratio_min}) must not exceed traffic_ratio_high "
                             f"({self.traffic_ratio_high})")
        if not self.traffic_unit_cost_tolerance >= 0:
            raise ValueError(f"traffic_unit_cost_tolerance must be >= 0, got {self.traffic_unit_cost_tolerance}")
        if not 0 <= self.high_confidence_minutes <= self.medium_confidence_minutes:
            raise ValueError("0 <= high_confidence_minutes <= medium_confidence_minutes must hold, got "
                             f"{self.high_confidence_minutes} and {self.medium_confidence_minutes}")
