"""Discovery and card JSON against the typed CDS Hooks 2.0 models; no null or empty fields.

Cards come from the most complex synthetic patient (every order card fires) and from small
charts that add the early-refill, UDS-suggestion and data-incomplete cards, on all three hooks.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qsl

import pytest

from app.synth import generate_cohort, most_complex_patient_id
from cds_hooks.cards import CARD_RULES, MAX_SUMMARY
from cds_hooks.models import Card, CdsResponse, Discovery
from tests.unit.cds_hooks.conftest import SELECT, SIGN, VIEW
from tests.unit.cds_hooks.support import (
    ALPRAZOLAM,
    ANCHOR,
    HYDROMORPHONE_2,
    OXY_5,
    bundle_resources,
    dispense,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
)

CDC_2022 = "https://www.cdc.gov/mmwr/volumes/71/rr/rr7103a1.htm"
OVERRIDE_SYSTEM = "http://fhir.org/guides/cdc/opioid-cds/CodeSystem/opioidcds-overrideReasons"
#: CDS Hooks 2.0 "Prefetch query restrictions": the recommended subset.
ALLOWED_PARAMS = {"patient", "status", "intent", "category", "code", "type", "_count", "_sort"}


@pytest.fixture(scope="module")
def complex_patient():
    bundle = generate_cohort(patients=1, anchor=ANCHOR)[0]
    return most_complex_patient_id(), bundle_resources(bundle)


def assert_no_null_or_empty(value, path="$"):
    if isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, item in value.items():
            assert item is not None, f"null at {path}.{key}"
            assert item != "", f"empty string at {path}.{key}"
            assert_no_null_or_empty(item, f"{path}.{key}")
    elif isinstance(value, list):
        assert value, f"empty list at {path}"
        for index, item in enumerate(value):
            assert_no_null_or_empty(item, f"{path}[{index}]")


def test_discovery_lists_three_services_valid_against_the_model(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    payload = response.json()
    discovery = Discovery.model_validate(payload)
    assert_no_null_or_empty(payload)
    assert {(s.hook, s.id) for s in discovery.services} == {
        ("order-select", "ppact-opioid-order-select"),
        ("order-sign", "ppact-opioid-order-sign"),
        ("patient-view", "ppact-cot-patient-view"),
    }


def test_prefetch_templates_stay_in_the_recommended_subset(client):
    services = client.get("/cds-services").json()["services"]
    templates = services[0]["prefetch"]
    assert set(templates) >= {
        "patient",
        "medication-request",
        "medication-dispense",
        "condition-problem-list",
        "observation-laboratory",
        "procedure",
        "document-agreement",
        "encounter",
    }
    for key, template in templates.items():
        assert re.findall(r"{{[^}]*}}", template) == ["{{context.patientId}}"], key
        if "?" not in template:
            assert template == "Patient/{{context.patientId}}"
            continue
        _, query = template.split("?", 1)
        names = {name for name, _ in parse_qsl(query)}
        assert names <= ALLOWED_PARAMS, (key, names - ALLOWED_PARAMS)
    request = templates["medication-request"]
    assert "status=" in request and "intent=" in request
    assert "category=" in templates["observation-laboratory"]


def scenario_bodies(complex_patient):
    pid, resources = complex_patient
    draft = medication_request(
        "draft-oxy", *OXY_5, patient=pid, authored=ANCHOR.isoformat(), quantity=60
    )
    full = prefetch_for(resources)
    yield SELECT, hook_request("order-select", pid, drafts=[draft], prefetch=full)
    yield SIGN, hook_request("order-sign", pid, drafts=[draft], prefetch=full)
    yield VIEW, hook_request("patient-view", pid, prefetch=full)
    small = [
        *monitored_cot_patient("p2", last_fill_days_ago=15, uds_days_ago=None, naloxone=False),
        dispense("benzo", ALPRAZOLAM, ANCHOR - timedelta(days=5), patient="p2"),
    ]
    hm = medication_request("d2", *HYDROMORPHONE_2, patient="p2", per_day=8, quantity=240)
    yield SIGN, hook_request("order-sign", "p2", drafts=[hm], prefetch=prefetch_for(small))
    partial = {k: v for k, v in prefetch_for(small).items() if k != "medication-dispense"}
    yield SELECT, hook_request("order-select", "p2", drafts=[hm], prefetch=partial)
    yield VIEW, hook_request("patient-view", "p2", prefetch=partial)
    oxy = medication_request("d3", *OXY_5, patient="p2", authored=ANCHOR.isoformat())
    yield SELECT, hook_request("order-select", "p2", drafts=[oxy], prefetch=prefetch_for(small))
    quiet = prefetch_for(monitored_cot_patient("p4", uds_days_ago=None))
    del quiet["medication-dispense"]
    oxy4 = medication_request("d4", *OXY_5, patient="p4", authored=ANCHOR.isoformat())
    yield SELECT, hook_request("order-select", "p4", drafts=[oxy4], prefetch=quiet)


def test_every_card_is_valid_and_has_no_null_or_empty_fields(client, complex_patient):
    seen_rules = set()
    for url, body in scenario_bodies(complex_patient):
        response = client.post(url, json=body)
        assert response.status_code == 200, response.text
        payload = response.json()
        CdsResponse.model_validate(payload)
        for card in payload["cards"]:
            assert_no_null_or_empty(card)
            model = Card.model_validate(card)
            assert len(model.summary) <= MAX_SUMMARY
            assert card["source"]["url"] == CDC_2022
            seen_rules.add(card["source"]["topic"]["code"])
            for suggestion in card.get("suggestions", []):
                assert card["selectionBehavior"] in {"at-most-one", "any"}
                assert re.fullmatch(r"[0-9a-f-]{36}", suggestion["uuid"])
            for reason in card.get("overrideReasons", []):
                assert reason["display"]
            if "overrideReasons" in card:  # order cards link to the app's summary
                assert card["links"][0]["type"] == "smart"
                assert card["links"][0]["url"].endswith("/launch")
    expected = {rule.id for rule in CARD_RULES}
    assert seen_rules == expected, expected - seen_rules


def test_order_cards_offer_the_cdc_override_reasons_and_the_policy_snooze_choices(
    client, complex_patient
):
    url, body = next(scenario_bodies(complex_patient))
    card = client.post(url, json=body).json()["cards"][0]
    codes = [(r["system"], r["code"]) for r in card["overrideReasons"]]
    assert codes[:4] == [
        (OVERRIDE_SYSTEM, "snooze-1-month"),
        (OVERRIDE_SYSTEM, "snooze-3-months"),
        (OVERRIDE_SYSTEM, "snooze-6-months"),
        (OVERRIDE_SYSTEM, "snooze-1-year"),
    ]


def test_card_uuids_are_fresh_per_response(client, complex_patient):
    url, body = next(scenario_bodies(complex_patient))
    first = {c["uuid"] for c in client.post(url, json=body).json()["cards"]}
    second = {c["uuid"] for c in client.post(url, json=body).json()["cards"]}
    assert first and second and not first & second


def test_as_of_is_the_clinic_local_day(client):
    # NOW is 2026-11-02 07:30 UTC = 2026-11-01 in Los Angeles: the naloxone suggestion is
    # authored on the local day.
    chart = monitored_cot_patient("p3", naloxone=False)
    draft = medication_request("d3", *HYDROMORPHONE_2, patient="p3", per_day=4, quantity=120)
    body = hook_request("order-sign", "p3", drafts=[draft], prefetch=prefetch_for(chart))
    cards = {c["source"]["topic"]["code"]: c for c in client.post(SIGN, json=body).json()["cards"]}
    resource = cards["naloxone-not-on-record"]["suggestions"][0]["actions"][0]["resource"]
    assert resource["authoredOn"] == date(2026, 11, 1).isoformat()
