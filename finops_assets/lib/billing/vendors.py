"""Who sells a bill line: the cloud itself (first party) or a vendor selling through it (third party).

FOCUS names the parties of a charge: ProviderName made the resource or service available,
PublisherName produced it, InvoiceIssuerName invoices it (FOCUS 1.3 renames the first two to
ServiceProviderName and HostProviderName). Real exports spell one party many ways: the official
FOCUS 1.0 sample has provider `AWS` and publisher `Amazon Web Services, Inc.`, `Amazon Web
Services EMEA SARL` or `Amazon Web Services Canada, Inc.` on first-party lines; Azure writes
`Microsoft` or `Azure`, Google `Google Cloud` or `Google`, Oracle `Oracle` or `OCI`. Comparing the
names as text made every first-party line of a real AWS bill look like a marketplace line.

So a line is third party when the vendor identities (case, punctuation, legal suffixes, regional
qualifiers and the clouds' aliases removed) of its publisher and its provider differ, or when the
line carries a marketplace marker (AWS: `AWS Marketplace ...` in the charge description and
`arn:aws:marketplace` resource ids; the sample's Red Hat line has both). A missing name is no
evidence of a third party. `vendor_identity` and `is_third_party` are the one definition; the
detection SQL reads the same answers from `register_vendor_lines` (a table this module writes
from the bill's distinct names) and `marketplace_line` (a macro built from MARKETPLACE_MARKERS).
"""

import re
import unicodedata

import duckdb
import polars as pl

# Words that name a company's legal form, not the company (compared after punctuation is removed).
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co", "company",
    "plc", "gmbh", "ag", "kg", "sarl", "sa", "sas", "srl", "spa", "bv", "nv", "oy", "ab", "as", "aps",
    "kk", "gk", "pte", "pty", "pvt", "private", "sdn", "bhd", "ulc", "lda", "ltda", "sl", "sro", "se",
})
# Words that name the regional entity of one company, at the end of its name (AWS EMEA SARL,
# AWS Canada, Inc., Datadog Japan G.K.).
REGIONAL_QUALIFIERS = frozenset({
    "emea", "apac", "americas", "america", "europe", "eu", "us", "usa", "canada", "japan", "india",
    "australia", "brasil", "brazil", "korea", "singapore", "ireland", "uk", "germany", "deutschland",
    "france", "italia", "italy", "spain", "espana", "mexico", "south", "africa", "new", "zealand",
    "hong", "kong", "china", "taiwan", "indonesia", "malaysia", "asia", "pacific", "israel",
    "switzerland", "netherlands", "sweden", "international", "global", "operations",
})
# A cloud is recognized by the words its names start with (after legal suffixes are removed):
# 'Amazon Web Services EMEA SARL', 'Amazon Internet Services Private Limited' (AWS India), 'AWS';
# 'Microsoft Ireland Operations Limited', 'Azure'; 'Google Cloud EMEA Limited', 'GCP'; 'OCI'.
CLOUD_PREFIXES: dict[tuple[str, ...], str] = {
    ("aws",): "aws", ("amazon", "web", "services"): "aws", ("amazon", "internet", "services"): "aws",
    ("amazon", "aws"): "aws",
    ("microsoft",): "microsoft", ("azure",): "microsoft", ("msft",): "microsoft",
    ("google",): "google", ("gcp",): "google",
    ("oracle",): "oracle", ("oci",): "oracle",
    ("alibaba",): "alibaba", ("aliyun",): "alibaba",
    ("ibm",): "ibm",
}
CLOUDS = frozenset(CLOUD_PREFIXES.values())
# Lower-case substrings of a line's charge description or resource id that mark a marketplace sale.
MARKETPLACE_MARKERS = ("marketplace",)


def vendor_identity(name: str | None) -> str | None:
    """The vendor a party's name means: 'Amazon Web Services EMEA SARL' and 'AWS' are both 'aws'.
    None for a missing or blank name (no evidence); any other name keeps its own words without legal
    suffixes and trailing regional qualifiers ('Datadog Japan G.K.' and 'Datadog, Inc.' -> 'datadog')."""
    if name is None:
        return None
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", text.replace(".", "").replace("&", " and ")).split()  # G.K. -> gk
    core = [w for w in words if w not in LEGAL_SUFFIXES] or words
    if not core:
        return None
    for prefix, cloud in CLOUD_PREFIXES.items():
        if tuple(core[:len(prefix)]) == prefix:
            return cloud
    while len(core) > 1 and core[-1] in REGIONAL_QUALIFIERS:
        core.pop()
    return " ".join(core)


def is_marketplace_text(*texts: str | None) -> bool:
    """Whether any of a line's texts (charge description, resource id, a party's name) carries a
    marketplace marker."""
    return any(marker in text.lower() for text in texts if text for marker in MARKETPLACE_MARKERS)


def is_third_party(provider: str | None, publisher: str | None, host_provider: str | None = None,
                   invoice_issuer: str | None = None, charge_description: str | None = None,
                   resource_id: str | None = None) -> bool:
    """Whether a bill line is sold by someone other than the cloud that bills it.

    FOCUS's Provider made the service available for purchase, its Publisher produced it ("Origination
    of cost data": a marketplace offering has the cloud as provider and invoice issuer, the software
    company as publisher). The seller is the publisher (FOCUS 1.0 to 1.2) or, without one, the host
    provider (1.3's HostProviderName beside ServiceProviderName, which ingestion reads as the
    provider); the line is third party when the seller's vendor identity differs from the
    provider's (unless the seller is a cloud resold by a managed service provider), or when a
    marketplace marker is in its charge description, resource id, publisher or invoice issuer."""
    if is_marketplace_text(charge_description, resource_id, publisher, invoice_issuer):
        return True
    seller = vendor_identity(publisher) or vendor_identity(host_provider)
    provider_identity = vendor_identity(provider)
    if seller is None or provider_identity is None or seller == provider_identity:
        return False
    # A cloud's own service resold by a managed service provider (FOCUS's origination scenario 2.1:
    # provider the MSP, publisher the cloud) is the cloud's price list, not a marketplace seller's.
    # (1.3's host provider is where a vendor's service runs: a vendor on a cloud stays third party.)
    return not (vendor_identity(publisher) in CLOUDS and provider_identity not in CLOUDS)


NAME_COLUMNS = ("provider_name", "publisher_name", "host_provider_name", "invoice_issuer_name")
VENDOR_LINES_SCHEMA = {**{c: pl.String for c in NAME_COLUMNS}, "provider_identity": pl.String,
                       "seller_identity": pl.String, "third_party_vendor": pl.Boolean}


def vendor_lines(names) -> pl.DataFrame:
    """One row per distinct (provider, publisher, host provider, invoice issuer) with the vendor
    identities and whether the names alone make the line third party (`is_third_party` without the
    line's description and resource id, which the SQL tests with `marketplace_line`)."""
    rows = [{**dict(zip(NAME_COLUMNS, t, strict=True)), "provider_identity": vendor_identity(t[0]),
             "seller_identity": vendor_identity(t[1]) or vendor_identity(t[2]),
             "third_party_vendor": is_third_party(*t)}
            for t in sorted({tuple(t) for t in names}, key=lambda t: tuple("" if v is None else v for v in t))]
    return pl.DataFrame(rows, schema=VENDOR_LINES_SCHEMA)


def marketplace_macro_sql() -> str:
    """`marketplace_line(description, resource_id)`: `is_marketplace_text` in SQL, built from the same markers."""
    tests = " or ".join(f"contains(lower(coalesce({arg}, '')), '{m}')"
                        for m in MARKETPLACE_MARKERS for arg in ("description", "resource_id"))
    return f"create or replace temp macro marketplace_line(description, resource_id) as ({tests})"


def register_vendor_lines(conn: duckdb.DuckDBPyConnection, source: str = "focus_billing") -> None:
    """Temp table `vendor_lines` (see `vendor_lines`) for every name quadruple in `source`, and the
    `marketplace_line` macro: what the detection SQL decides third-party lines with."""
    names = conn.execute(f"select distinct {', '.join(NAME_COLUMNS)} from {source}").fetchall()
    conn.register("vendor_lines_frame", vendor_lines(names).to_arrow())
    try:
        conn.execute("create or replace temp table vendor_lines as select * from vendor_lines_frame")
    finally:
        conn.unregister("vendor_lines_frame")
    conn.execute(marketplace_macro_sql())
