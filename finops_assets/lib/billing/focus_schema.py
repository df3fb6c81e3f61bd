"""Which FOCUS columns we read, under which names, and how a file's header maps onto them.

FOCUS 1.0 to 1.3 share almost every column name; 1.3 renamed ProviderName/PublisherName to
ServiceProviderName/HostProviderName (the old names stay, deprecated). We match headers
case-insensitively and ignore surrounding spaces, because real exports differ in both.
"""

from dataclasses import dataclass, field

# Canonical column -> the header names it may have, first match wins.
SOURCE_NAMES: dict[str, tuple[str, ...]] = {
    "charge_period_start": ("ChargePeriodStart",),
    "charge_period_end": ("ChargePeriodEnd",),
    "billing_period_start": ("BillingPeriodStart",),
    "billing_period_end": ("BillingPeriodEnd",),
    "billed_cost": ("BilledCost",),
    "effective_cost": ("EffectiveCost",),
    "list_cost": ("ListCost",),
    "contracted_cost": ("ContractedCost",),
    "list_unit_price": ("ListUnitPrice",),
    "consumed_quantity": ("ConsumedQuantity",),
    "consumed_unit": ("ConsumedUnit",),
    "pricing_quantity": ("PricingQuantity",),
    "pricing_unit": ("PricingUnit",),
    "billing_currency": ("BillingCurrency",),
    "provider_name": ("ServiceProviderName", "ProviderName"),
    "publisher_name": ("PublisherName",),
    "host_provider_name": ("HostProviderName",),
    "invoice_issuer_name": ("InvoiceIssuerName",),
    "billing_account_id": ("BillingAccountId",),
    "billing_account_name": ("BillingAccountName",),
    "sub_account_id": ("SubAccountId",),
    "sub_account_name": ("SubAccountName",),
    "charge_category": ("ChargeCategory",),
    "charge_class": ("ChargeClass",),
    "charge_frequency": ("ChargeFrequency",),
    "charge_description": ("ChargeDescription",),
    "pricing_category": ("PricingCategory",),
    "service_category": ("ServiceCategory",),
    "service_name": ("ServiceName",),
    "sku_id": ("SkuId",),
    "sku_price_id": ("SkuPriceId",),
    "resource_id": ("ResourceId",),
    "resource_name": ("ResourceName",),
    "resource_type": ("ResourceType",),
    "region_id": ("RegionId",),
    "availability_zone": ("AvailabilityZone",),
    "commitment_discount_id": ("CommitmentDiscountId",),
    "commitment_discount_status": ("CommitmentDiscountStatus",),
    "commitment_discount_type": ("CommitmentDiscountType",),
    "tags": ("Tags",),
}

# Without these a file cannot be turned into cost per day and owner: the file fails as a whole.
# (label shown in the error, the canonical columns any one of which satisfies it)
REQUIRED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ChargePeriodStart", ("charge_period_start",)),
    ("BilledCost", ("billed_cost",)),
    ("ChargeCategory", ("charge_category",)),
    ("ProviderName or ServiceProviderName", ("provider_name",)),
)

# Money: kept as DECIMAL, converted to the reporting currency, bounded (cost_implausible). A row is
# superseded by a newer delivery only when it equals it in every other column (README, de-duplication).
MONEY_COLUMNS: tuple[str, ...] = ("billed_cost", "effective_cost", "list_cost", "contracted_cost", "list_unit_price")
# Numeric columns: a value that is present but not a number quarantines the row.
NUMERIC_COLUMNS: tuple[str, ...] = MONEY_COLUMNS + ("consumed_quantity", "pricing_quantity")
TIMESTAMP_COLUMNS: tuple[str, ...] = (
    "charge_period_start", "charge_period_end", "billing_period_start", "billing_period_end",
)

# FOCUS ChargeCategory values; matched case-insensitively, stored in this spelling.
CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
# Detection later leaves these out: they are not consumption.
NON_USAGE_CHARGE_CATEGORIES: tuple[str, ...] = ("Purchase", "Tax", "Credit", "Adjustment")


class FocusFileError(Exception):
    """A billing file that cannot be read at all (unreadable, or mandatory columns missing)."""

    def __init__(self, source_file: str, problem: str):
        super().__init__(f"{source_file}: {problem}")
        self.source_file = source_file
        self.problem = problem


@dataclass(frozen=True)
class ColumnMapping:
    """How one file's header maps onto the canonical columns."""

    source_for: dict[str, str]  # canonical -> header as written in the file
    missing_optional: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = field(default=())  # headers we do not read (kept in raw records)


def _normalize_header(name: str) -> str:
    return name.strip().lower()


def map_columns(source_file: str, header: list[str]) -> ColumnMapping:
    """Match a file header onto the canonical columns; raise FocusFileError naming what is missing."""
    by_normalized: dict[str, str] = {}
    read = {candidate.lower() for names in SOURCE_NAMES.values() for candidate in names}
    for name in header:
        normalized = _normalize_header(name)
        if normalized in by_normalized and normalized in read:
            # Which of the two is the bill's BilledCost? Guessing could swap the money: refuse.
            raise FocusFileError(source_file, f"columns {by_normalized[normalized]!r} and {name!r} are the same "
                                              "FOCUS column in another spelling: keep one")
        by_normalized.setdefault(normalized, name)
    source_for: dict[str, str] = {}
    for canonical, names in SOURCE_NAMES.items():
        for candidate in names:
            if (found := by_normalized.get(candidate.lower())) is not None:
                source_for[canonical] = found
                break
    missing_required = [label for label, options in REQUIRED if not any(o in source_for for o in options)]
    if missing_required:
        raise FocusFileError(
            source_file,
            f"mandatory FOCUS column(s) missing: {', '.join(missing_required)} "
            f"(header has {len(header)} columns: {', '.join(header[:12])}{' ...' if len(header) > 12 else ''})",
        )
    used = set(source_for.values())
    return ColumnMapping(
        source_for=source_for,
        missing_optional=tuple(c for c in SOURCE_NAMES if c not in source_for),
        extra_columns=tuple(h for h in header if h not in used),
    )
