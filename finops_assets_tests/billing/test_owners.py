"""Owner resolution from the FOCUS Tags JSON object (lib/billing/owners.py), no warehouse involved."""

import json

import pytest

from finops_assets.lib.billing.owners import (
    DEFAULT_DEPARTMENT_KEYS,
    DEFAULT_TEAM_KEYS,
    UNALLOCATED,
    Owner,
    OwnerRules,
    normalize_tag_key,
    resolve_owner,
)

DEFAULTS = OwnerRules()


def owner(tags: dict | str | None, rules: OwnerRules = DEFAULTS) -> tuple[str, str]:
    text = tags if tags is None or isinstance(tags, str) else json.dumps(tags)
    resolved = resolve_owner(text, rules)
    assert resolved.error is None, resolved.error
    return resolved.department, resolved.team


def test_the_defaults_are_the_documented_ones():
    assert DEFAULT_DEPARTMENT_KEYS[0] == "department" and DEFAULT_TEAM_KEYS[0] == "team"
    assert "business_unit" in DEFAULT_DEPARTMENT_KEYS
    assert UNALLOCATED == "unallocated"


@pytest.mark.parametrize("key", ["team", "Team", "TEAM", " Team", "team ", "  tEaM  "])
def test_keys_match_regardless_of_case_and_surrounding_spaces(key):
    assert owner({key: "payments", "Department": "Retail"}) == ("Retail", "payments")


@pytest.mark.parametrize("key", ["user:team", "aws:team", "User:Team", " tag:team", "k8s-label:team", "gcp.label:team"])
def test_provider_prefixes_are_stripped(key):
    assert owner({key: "payments", "user:department": "retail"}) == ("retail", "payments")


@pytest.mark.parametrize("first, second", [
    ({"team": "plain"}, {"user:team": "prefixed"}),
    ({"user:team": "prefixed"}, {"team": "plain"}),
    ({" Team ": "plain"}, {"aws:Team": "prefixed"}),
])
def test_an_unprefixed_key_beats_a_prefixed_one_in_either_order(first, second):
    assert owner(first | second) == (UNALLOCATED, "plain")


def test_two_prefixed_keys_keep_the_first():
    assert owner({"user:team": "first", "aws:team": "second"}) == (UNALLOCATED, "first")


def test_aliases_follow_the_configured_priority():
    assert owner({"business_unit": "bu"}) == ("bu", UNALLOCATED)
    assert owner({"business_unit": "bu", "department": "dep"}) == ("dep", UNALLOCATED)
    assert owner({"cost_center": "cc", "dept": "d"}) == ("d", UNALLOCATED)
    assert owner({"squad": "s", "owner_team": "o"}) == (UNALLOCATED, "o")


@pytest.mark.parametrize("key", ["business_unit", "Business Unit", "business-unit", "BusinessUnit", "user:Business.Unit"])
def test_separators_and_camel_case_match_the_same_alias(key):
    assert owner({key: "Marketing"}) == ("Marketing", UNALLOCATED)


def test_azure_style_cost_center_tag_is_a_department_alias():
    # The official FOCUS sample's Microsoft rows carry {"CostCenter": "1234", "Cost department": ...}.
    assert owner({"CostCenter": "1234", "Cost department": "Marketing", "env": "prod"}) == ("1234", UNALLOCATED)


def test_configured_keys_replace_the_defaults_and_are_normalized_too():
    rules = OwnerRules(department_keys=(" Org ",), team_keys=("user:Service-Owner", "app"))
    assert rules.department_keys == (normalize_tag_key("org")[0],)
    assert owner({"org": "trey", "team": "ignored", "department": "ignored"}, rules) == ("trey", UNALLOCATED)
    assert owner({"service_owner": "alice", "app": "web"}, rules) == (UNALLOCATED, "alice")
    assert owner({"app": "web"}, rules) == (UNALLOCATED, "web")
    assert owner({"department": "d", "team": "t"}, rules) == (UNALLOCATED, UNALLOCATED)


@pytest.mark.parametrize("tags", [None, "", "   ", "{}", {"env": "prod"}, {"team": ""}, {"team": "   "}, {"team": None}])
def test_missing_or_empty_owner_is_unallocated_not_an_error(tags):
    assert owner(tags) == (UNALLOCATED, UNALLOCATED)


def test_empty_value_falls_through_to_the_next_key():
    assert owner({"team": "", "user:team": "prefixed", "squad": "s"}) == (UNALLOCATED, "prefixed")
    assert owner({"department": " ", "dept": "d"}) == ("d", UNALLOCATED)


def test_values_are_trimmed_and_non_text_values_kept():
    assert owner({"team": "  payments  ", "department": 1234}) == ("1234", "payments")


@pytest.mark.parametrize("text, fragment", [
    ("team=payments", "not valid JSON"),
    ("{'team': 'payments'}", "not valid JSON"),
    ('{"team": "payments"', "not valid JSON"),
    ('["team", "payments"]', "got list"),
    ('"team"', "got str"),
    ("42", "got int"),
    ("null", "got NoneType"),
])
def test_tags_that_are_not_a_json_object_are_an_error_with_unallocated_owner(text, fragment):
    resolved = resolve_owner(text, DEFAULTS)
    assert (resolved.department, resolved.team) == (UNALLOCATED, UNALLOCATED)
    assert resolved.error is not None and fragment in resolved.error


def test_normalize_tag_key_reports_the_prefix():
    assert normalize_tag_key(" User:Team ") == ("team", True)
    assert normalize_tag_key("Team") == ("team", False)
    assert normalize_tag_key("aws:createdBy") == ("createdby", True)
    assert normalize_tag_key("Cost Center") == normalize_tag_key("cost_center") == normalize_tag_key("CostCenter")


def test_owner_is_a_plain_value():
    assert resolve_owner('{"team": "a", "department": "b"}', DEFAULTS) == \
        Owner("b", "a", canonical='{"department":"b","team":"a"}')


@pytest.mark.parametrize("text", ['{"env":"prod","team":"a"}', '{ "team" : "a", "env": "prod" }'])
def test_tags_written_two_ways_have_one_canonical_form(text):
    assert resolve_owner(text, DEFAULTS).canonical == '{"env":"prod","team":"a"}'


@pytest.mark.parametrize("text", [None, "", "  ", "{}"])
def test_no_tags_in_any_spelling_is_no_tags(text):
    assert resolve_owner(text, DEFAULTS).canonical is None
