"""End to end through the real ingestion, rollup, detection and routing SQL (no Dagster run): a bill
spelled as AWS's FOCUS export spells it (provider `AWS`, publisher the legal entity, as in the
official FOCUS sample). A first-party instance resize and a storage tier change are not marketplace
price changes; a Datadog price rise sold through AWS is."""

import csv
import json
from datetime import date, datetime, timedelta

import duckdb
import pytest

from finops_assets_tests.standins.bill_chain import route_bill

START = datetime(2025, 3, 3)      # a Monday
DAYS = 42
EVENT_DAY = 35                    # each change starts at midnight of this day
COLUMNS = ("BillingAccountId", "SubAccountId", "ProviderName", "PublisherName", "InvoiceIssuerName",
           "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeFrequency", "ChargeDescription",
           "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "ResourceId", "ResourceType", "RegionId",
           "BillingCurrency", "BilledCost", "EffectiveCost", "ListCost", "ListUnitPrice", "ConsumedQuantity",
           "PricingQuantity", "Tags")

# resource -> (publisher, invoice issuer, category, service, resource type, quantity/hour,
#              (sku, unit price) before, (sku, unit price) from EVENT_DAY)
RESOURCES = {
    "i-0resize": ("Amazon Web Services EMEA SARL", "Amazon Web Services EMEA SARL", "Compute",
                  "Amazon Elastic Compute Cloud", "Instance", 1.0, ("m5.8xlarge", 1.536), ("m5.16xlarge", 3.072)),
    "bucket-tier": ("Amazon Web Services Canada, Inc.", "Amazon Web Services Canada, Inc.", "Storage",
                    "Amazon Simple Storage Service", "Bucket", 1000.0, ("TimedStorage-ByteHrs", 0.002),
                    ("TimedStorage-ByteHrs", 0.0038)),
    "datadog-pro": ("Datadog, Inc.", "Amazon Web Services, Inc.", "Management and Governance", "Datadog Pro",
                    "SaaS Subscription", 20.0, ("datadog-pro-host-hour", 0.10), ("datadog-pro-host-hour", 0.16)),
    # An AWS Marketplace AMI's software charge on an instance, with no seller named: the marker decides.
    "i-0rosa": ("", "Amazon Web Services, Inc.", "Compute", "AWS Marketplace hourly software usage", "Instance",
                1.0, ("KSBJVU2W8AWNBSP8", 0.90), ("KSBJVU2W8AWNBSP8", 1.35)),
    "i-0steady": ("Amazon Web Services, Inc.", "Amazon Web Services, Inc.", "Compute",
                  "Amazon Elastic Compute Cloud", "Instance", 1.0, ("m5.4xlarge", 0.768), ("m5.4xlarge", 0.768)),
}


def _bill(path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(DAYS * 24):
            hour = START + timedelta(hours=n)
            for resource, (publisher, issuer, category, service, rtype, qty, before, after) in RESOURCES.items():
                sku, price = after if n >= EVENT_DAY * 24 else before
                cost = f"{qty * price:.6f}"
                row = {"BillingAccountId": "payer-1", "SubAccountId": "111122223333", "ProviderName": "AWS",
                       "PublisherName": publisher, "InvoiceIssuerName": issuer,
                       "ChargePeriodStart": f"{hour:%Y-%m-%dT%H:%M:%SZ}",
                       "ChargePeriodEnd": f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                       "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
                       "ChargeDescription": f"{service} {sku}", "ServiceCategory": category, "ServiceName": service,
                       "SkuId": sku, "SkuPriceId": f"{sku}.JRTCKXETXF.{price:.4f}", "ResourceId": resource,
                       "ResourceType": rtype, "RegionId": "eu-west-1", "BillingCurrency": "USD",
                       "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ListUnitPrice": f"{price}",
                       "ConsumedQuantity": f"{qty}", "PricingQuantity": f"{qty}",
                       "Tags": json.dumps({"department": "platform", "team": "observability"})}
                writer.writerow([row[c] for c in COLUMNS])


@pytest.fixture(scope="module")
def routed(tmp_path_factory) -> dict[str, tuple[str, str, str]]:
    """resource_id -> (path, confidence, rationale) after the whole chain on the bill above."""
    tmp = tmp_path_factory.mktemp("third-party-vendors")
    _bill(tmp / "aws_focus.csv")
    conn = duckdb.connect(str(tmp / "w.duckdb"))
    route_bill(conn, tmp / "aws_focus.csv", START.date(), DAYS, tmp)
    rows = conn.execute("select a.resource_id, a.anomaly_date, r.path, r.confidence, r.rationale from cost_anomalies a "
                        "join routing_decisions r using (anomaly_id) order by 1").fetchall()
    conn.close()
    assert [(r[0], r[1]) for r in rows] == [(resource, date(2025, 3, 3) + timedelta(days=EVENT_DAY))
                                            for resource in ("bucket-tier", "datadog-pro", "i-0resize", "i-0rosa")]
    return {r[0]: r[2:] for r in rows}


def test_an_instance_resize_billed_by_aws_emea_sarl_is_infrastructure_drift(routed):
    path, confidence, rationale = routed["i-0resize"]
    assert (path, confidence) == ("infrastructure_drift", "high")
    assert "m5.8xlarge -> m5.16xlarge" in rationale and "unit price 2.00x" in rationale


def test_a_storage_tier_change_billed_by_aws_canada_is_data_tier_threshold(routed):
    path, confidence, rationale = routed["bucket-tier"]
    assert (path, confidence) == ("data_tier_threshold", "high")
    assert "unit price 1.90x" in rationale


def test_a_datadog_price_rise_sold_through_aws_is_third_party_pricing(routed):
    path, confidence, rationale = routed["datadog-pro"]
    assert (path, confidence) == ("third_party_pricing", "high")
    assert rationale.endswith("Datadog, Inc. (sold through AWS) raised the unit price 1.60x while quantity moved 1.00x.")


def test_a_marketplace_line_with_no_seller_named_is_third_party_by_its_marker(routed):
    path, confidence, rationale = routed["i-0rosa"]
    assert (path, confidence) == ("third_party_pricing", "high")
    assert rationale.endswith("a marketplace seller (sold through AWS) raised the unit price 1.50x while quantity moved 1.00x.")
