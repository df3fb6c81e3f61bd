"""First- vs third-party lines from vendor identity and marketplace markers (lib/billing/vendors.py),
on the official FOCUS 1.0 sample's names and on names spelled as AWS, Azure, GCP and OCI exports
spell them (the focus_converters conversion rules: AWS provider `AWS`, publisher the line's legal
entity; Azure provider `Azure` or `Microsoft`, publisher PublisherName; GCP provider `Google Cloud`,
publisher the seller or `Google Cloud`; OCI provider `Oracle`, no publisher)."""

import csv

import duckdb
import pytest

from finops_assets.lib.billing.vendors import (
    is_marketplace_text,
    is_third_party,
    marketplace_macro_sql,
    register_vendor_lines,
    vendor_identity,
)
from finops_assets_tests.billing.test_focus_ingest import SAMPLE, ingest


@pytest.mark.parametrize(("name", "identity"), [
    ("AWS", "aws"),
    ("Amazon Web Services, Inc.", "aws"),
    ("Amazon Web Services EMEA SARL", "aws"),
    ("Amazon Web Services Canada, Inc.", "aws"),
    ("amazon web services japan g.k.", "aws"),
    ("Amazon Internet Services Private Limited", "aws"),
    ("Microsoft", "microsoft"),
    ("Azure", "microsoft"),
    ("Microsoft Corporation", "microsoft"),
    ("Microsoft Ireland Operations Limited", "microsoft"),
    ("Google Cloud", "google"),
    ("Google LLC", "google"),
    ("GCP", "google"),
    ("Oracle", "oracle"),
    ("OCI", "oracle"),
    ("Oracle America, Inc.", "oracle"),
    ("Red Hat Inc.", "red hat"),
    ("Datadog, Inc.", "datadog"),
    ("DATADOG INC", "datadog"),
    ("Datadog Japan G.K.", "datadog"),
    ("Snowflake B.V.", "snowflake"),
    ("Acme Co", "acme"),
    (None, None),
    ("  ", None),
])
def test_vendor_identity_survives_case_punctuation_legal_suffixes_regions_and_aliases(name, identity):
    assert vendor_identity(name) == identity


@pytest.mark.parametrize(("provider", "publisher", "host", "issuer", "description", "resource_id", "third"), [
    # AWS FOCUS export: provider AWS, publisher the legal entity; a marketplace seller is the publisher
    ("AWS", "Amazon Web Services EMEA SARL", None, "Amazon Web Services EMEA SARL",
     "$0.384 per On Demand Linux m5.2xlarge Instance Hour", "i-0abc", False),
    ("AWS", "Amazon Web Services, Inc.", None, "Amazon Web Services, Inc.", None, "bucket-1", False),
    ("AWS", "Datadog, Inc.", None, "Amazon Web Services, Inc.", "Datadog Pro host-hour", "datadog-1", True),
    # AWS marketplace line with the seller missing: the marker decides
    ("AWS", None, None, "Amazon Web Services, Inc.", "AWS Marketplace hourly software usage|us-east-1|m5.2xlarge",
     "i-0abc", True),
    ("AWS", "Amazon Web Services, Inc.", None, None, None, "arn:aws:marketplace:::product/abc", True),
    # Azure: provider Azure (focus_converters) or Microsoft (Cost Management), marketplace ISV as publisher
    ("Azure", "Microsoft", None, "Microsoft", "Virtual Machines D4s v5", "/subscriptions/1/vm", False),
    ("Microsoft", "Microsoft", None, "Microsoft", None, None, False),
    ("Microsoft", "Elastic", None, "Microsoft", "Elastic Cloud (Elasticsearch)", "/subscriptions/1/elastic", True),
    # GCP: the seller when there is one, else Google Cloud
    ("Google Cloud", "Google Cloud", None, None, "N2 Instance Core running in Americas", "vm-1", False),
    ("Google Cloud", "Google LLC", None, None, None, "vm-1", False),
    ("Google Cloud", "MongoDB Inc.", None, None, "MongoDB Atlas", "atlas-1", True),
    # OCI: no publisher at all is no evidence of a third party
    ("Oracle", None, None, None, "COMPUTE", "ocid1.instance.oc1", False),
    ("OCI", "Oracle", None, "Oracle", None, None, False),
    # FOCUS 1.3: ServiceProviderName (read as the provider) and HostProviderName, no PublisherName
    ("AWS", None, "AWS", None, None, None, False),
    ("Datadog", None, "Amazon Web Services", None, None, None, True),
    # FOCUS's origination scenarios: a region operated by a third party (1.2), AWS resold by a managed
    # service provider (2.1), the MSP's own service (2.2)
    ("Microsoft", "Microsoft", None, "21Vianet", None, None, False),
    ("Rackspace Technology", "Amazon Web Services, Inc.", None, "Rackspace Technology", None, None, False),
    ("Rackspace Technology", "Rackspace Technology", None, "Rackspace Technology", None, None, False),
    # another cloud's software sold on AWS Marketplace is still a third party there
    ("AWS", "Microsoft Corporation", None, "Amazon Web Services, Inc.", None, None, True),
    # a SaaS vendor's own bill (the FOCUS spec's SaaS examples)
    ("ACMECORP", "ACMECORP", None, "ACMECORP", None, None, False),
    (None, "Datadog, Inc.", None, None, None, None, False),
])
def test_third_party_from_identities_and_marketplace_markers(provider, publisher, host, issuer, description,
                                                             resource_id, third):
    assert is_third_party(provider, publisher, host, issuer, description, resource_id) is third


def _sample_rows() -> list[dict]:
    with open(SAMPLE, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_the_official_sample_is_first_party_but_for_its_one_marketplace_line():
    """The sample's names (AWS with three legal entities, Microsoft, Oracle) are first party; its Red Hat
    line, sold through AWS Marketplace, is third party. Compared as text, almost every AWS line differed."""
    rows = _sample_rows()
    third = [r for r in rows if is_third_party(r["ProviderName"] or None, r["PublisherName"] or None, None,
                                               r["InvoiceIssuerName"] or None, r["ChargeDescription"] or None,
                                               r["ResourceId"] or None)]
    assert [(r["PublisherName"], r["ServiceName"]) for r in third] == [("Red Hat Inc.", "Red Hat OpenShift Service on AWS")]
    assert {r["PublisherName"] for r in rows} >= {"Amazon Web Services, Inc.", "Amazon Web Services EMEA SARL",
                                                  "Amazon Web Services Canada, Inc.", "Microsoft", "Oracle"}
    text_differs = [r for r in rows if r["PublisherName"].lower() != r["ProviderName"].lower()]
    assert len(text_differs) > 900 and len(rows) - len(third) > 900


# The join select_anomaly_evidence.sql makes (names may be null: FOCUS 1.0 has no HostProviderName).
VENDOR_JOIN = ("from focus_billing f left join vendor_lines v on "
               + " and ".join(f"v.{c} is not distinct from f.{c}" for c in
                              ("provider_name", "publisher_name", "host_provider_name", "invoice_issuer_name")))


def test_the_sql_decides_the_sample_as_the_python_does(tmp_path):
    """register_vendor_lines + marketplace_line (what select_anomaly_evidence.sql joins) over the ingested
    sample: the same one third-party line, and the identities of every name the sample spells."""
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest(conn, [SAMPLE], tmp_path)
    register_vendor_lines(conn)
    assert conn.execute(f"select count(*) {VENDOR_JOIN} where v.provider_name is null").fetchall() == [(0,)]
    by_names = conn.execute(f"select f.publisher_name, f.service_name {VENDOR_JOIN} where v.third_party_vendor").fetchall()
    by_marker = conn.execute(f"select f.publisher_name {VENDOR_JOIN} "
                             "where marketplace_line(f.charge_description, f.resource_id)").fetchall()
    assert by_names == [("Red Hat Inc.", "Red Hat OpenShift Service on AWS")]
    assert by_marker == [("Red Hat Inc.",)]  # both kinds of evidence find it
    identities = dict(conn.execute("select publisher_name, seller_identity from vendor_lines").fetchall())
    assert identities == {"Amazon Web Services Canada, Inc.": "aws", "Amazon Web Services EMEA SARL": "aws",
                          "Amazon Web Services, Inc.": "aws", "Red Hat Inc.": "red hat",
                          "Microsoft": "microsoft", "Oracle": "oracle"}
    conn.close()


@pytest.mark.parametrize("text", [
    "AWS Marketplace hourly software usage|us-east-1|m5.2xlarge", "arn:aws:marketplace:::product/x",
    "MARKETPLACE", "Amazon Elastic Compute Cloud m5.2xlarge", "", None,
])
def test_the_sql_macro_and_the_python_agree_on_markers(text):
    conn = duckdb.connect()
    conn.execute(marketplace_macro_sql())
    assert conn.execute("select marketplace_line($t, null), marketplace_line(null, $t)", {"t": text}).fetchall() == [
        (is_marketplace_text(text), is_marketplace_text(text))]
