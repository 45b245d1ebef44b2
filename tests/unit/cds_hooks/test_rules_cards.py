"""Each card rule: positive, negative and boundary cases, through the HTTP service.

Charts are small hand-built ones (tests/unit/cds_hooks/support.py); the as-of date is the
clinic's local day 2026-11-01 (conftest NOW). Only the cards' rule codes, indicators and key
facts are asserted; the wording lives in cds_hooks/cards.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from app.clinical.terminology import load_terminology
from tests.unit.cds_hooks.conftest import SELECT, SIGN, VIEW
from tests.unit.cds_hooks.support import (
    ALPRAZOLAM,
    CARISOPRODOL,
    HYDROMORPHONE_2,
    OXY_5,
    OXY_10,
    RXNORM,
    SNOMED,
    condition,
    dispense,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
)

AS_OF = date(2026, 11, 1)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
PID = "pt-1"


def draft(drug=OXY_5, rid="draft-1", per_day=2, days=30, **kw):
    return medication_request(
        rid, drug[0], drug[1], patient=PID, authored=AS_OF.isoformat(), per_day=per_day,
        days=days, quantity=per_day * days, **kw,
    )  # fmt: skip


def cards_for(client, resources, drafts, url=SELECT, **kw):
    body = hook_request(
        "order-select" if url == SELECT else "order-sign",
        PID,
        drafts=drafts,
        prefetch=prefetch_for(resources),
        **kw,
    )
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()["cards"]


def by_rule(cards):
    return {c["source"]["topic"]["code"]: c for c in cards}


# --------------------------------------------------------------------------- baseline


def test_monitored_patient_refill_on_time_gets_no_cards(client):
    assert cards_for(client, monitored_cot_patient(PID), [draft()]) == []


# --------------------------------------------------------------------------- co-prescribing


def test_draft_opioid_with_active_benzodiazepine_warns(client):
    chart = [
        *monitored_cot_patient(PID),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=10), patient=PID),
    ]
    card = by_rule(cards_for(client, chart, [draft()]))["coprescribing"]
    assert card["indicator"] == "warning"
    assert "benzodiazepine" in card["summary"]
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action == {
        "type": "delete",
        "description": action["description"],
        "resourceId": "MedicationRequest/draft-1",
    }


def test_draft_benzodiazepine_with_active_opioid_warns_the_reverse_way(client):
    chart = monitored_cot_patient(PID)
    cards = by_rule(cards_for(client, chart, [draft(ALPRAZOLAM, "draft-benzo")]))
    assert "coprescribing" in cards
    assert "mme-at-or-above-threshold" not in cards  # a benzodiazepine adds no MME


def test_benzodiazepine_that_ran_out_before_the_draft_starts_does_not_fire(client):
    # 30-day supply handed over 30 days ago: last day covered is yesterday.
    chart = [
        *monitored_cot_patient(PID),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=30), patient=PID),
    ]
    assert "coprescribing" not in by_rule(cards_for(client, chart, [draft()]))


def test_benzodiazepine_covering_the_as_of_day_fires(client):
    chart = [
        *monitored_cot_patient(PID),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=29), patient=PID),
    ]
    assert "coprescribing" in by_rule(cards_for(client, chart, [draft()]))


def test_triple_threat_escalates_to_critical(client):
    chart = [
        *monitored_cot_patient(PID),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=10), patient=PID),
        dispense("soma", CARISOPRODOL, AS_OF - timedelta(days=10), patient=PID),
    ]
    card = by_rule(cards_for(client, chart, [draft()]))["coprescribing"]
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Triple threat")


def test_order_select_only_targets_the_selected_orders(client):
    chart = [
        *monitored_cot_patient(PID),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=10), patient=PID),
    ]
    other = medication_request(
        "draft-other", "197361", "amlodipine 5 MG Oral Tablet", patient=PID, authored="2026-11-01"
    )
    drafts = [draft(), other]
    assert cards_for(client, chart, drafts, selections=["MedicationRequest/draft-other"]) == []
    opioid = cards_for(client, chart, drafts, selections=["MedicationRequest/draft-1"])
    assert "coprescribing" in by_rule(opioid)


def test_order_select_with_empty_selections_targets_no_draft(client):
    chart = monitored_cot_patient(PID, naloxone=False)
    drafts = [draft(OXY_10, per_day=8)]  # 120 MME/day with the current oxycodone: cards if targeted
    assert by_rule(cards_for(client, chart, drafts))  # selected: cards fire
    assert cards_for(client, chart, drafts, selections=[]) == []


# --------------------------------------------------------------------------- early refill


@pytest.mark.parametrize(
    ("handed_days_ago", "fires", "remaining"),
    [
        pytest.param(20, True, 10, id="10-days-left"),
        pytest.param(26, True, 4, id="4-days-left-over-tolerance"),
        pytest.param(27, False, None, id="3-days-left-within-tolerance"),
        pytest.param(30, False, None, id="used-up"),
    ],
)
def test_early_refill_compares_days_left_with_the_policy_tolerance(
    client, handed_days_ago, fires, remaining
):
    chart = monitored_cot_patient(PID, last_fill_days_ago=handed_days_ago)
    cards = by_rule(cards_for(client, chart, [draft()]))
    assert ("early-refill" in cards) is fires
    if fires:
        detail = cards["early-refill"]["detail"]
        last_fill = (AS_OF - timedelta(days=handed_days_ago)).isoformat()
        assert f"| {last_fill} | 30 | {remaining} |" in detail
        assert "Opioid fills in the last 6 months: **5**" in detail
        assert f"{remaining} more days" in cards["early-refill"]["summary"]


def test_early_refill_summary_and_tolerance_text_are_exact(client):
    chart = monitored_cot_patient(PID, last_fill_days_ago=20)
    card = by_rule(cards_for(client, chart, [draft()]))["early-refill"]
    assert (
        card["summary"]
        == "Early opioid refill: previous supply lasts 10 more days (until 2026-11-11)."
    )
    assert "beyond the clinic's tolerance (3 days):" in card["detail"]


def test_early_refill_detail_names_the_percent_tolerance_in_force(make_client, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("early_refill:\n  tolerance_percent: 10\n", encoding="utf-8")
    client = make_client(policy_file=policy)
    chart = monitored_cot_patient(PID, last_fill_days_ago=20)
    card = by_rule(cards_for(client, chart, [draft()]))["early-refill"]
    assert "tolerance (10% of the previous days supply):" in card["detail"]
    assert "days):" not in card["detail"]
    assert card["summary"].endswith("(until 2026-11-11).")


@pytest.mark.parametrize(
    ("extra_days_ago", "fills"),
    [pytest.param(181, 6, id="day-181-counted"), pytest.param(182, 5, id="day-182-not-counted")],
)
def test_six_month_fill_count_boundary(client, extra_days_ago, fills):
    chart = monitored_cot_patient(PID, last_fill_days_ago=20)  # fills 20 .. 140 days ago
    chart.append(dispense(f"{PID}-old", OXY_5, AS_OF - timedelta(days=extra_days_ago), patient=PID))
    card = by_rule(cards_for(client, chart, [draft()]))["early-refill"]
    assert f"Opioid fills in the last 6 months: **{fills}**." in card["detail"]


def test_two_drafts_of_one_drug_both_count_toward_mme(client):
    chart = monitored_cot_patient(PID)  # oxycodone 5 mg BID: 15 MME/day
    drafts = [
        draft(OXY_10, rid="draft-1", per_day=2),  # 20 mg/day: 30 MME/day
        draft(OXY_10, rid="draft-2", per_day=4),  # 40 mg/day: 60 MME/day
    ]
    card = by_rule(cards_for(client, chart, drafts))["mme-at-or-above-threshold"]
    assert card["summary"] == "With this order, total is 105.0 MME/day, at or above 90 MME/day."
    assert card["indicator"] == "critical"


def test_two_identical_drafts_both_count_toward_mme(client):
    chart = monitored_cot_patient(PID)
    drafts = [draft(OXY_10, rid=f"draft-{n}") for n in (1, 2)]  # 30 MME/day each
    card = by_rule(cards_for(client, chart, drafts))["mme-at-or-above-threshold"]
    assert "75.0 MME/day, at or above 50 MME/day" in card["summary"]


def test_a_draft_is_not_an_early_refill_of_another_draft(client):
    chart = monitored_cot_patient(PID, last_fill_days_ago=30)  # supply used up
    drafts = [draft(rid="draft-1"), draft(rid="draft-2")]
    assert "early-refill" not in by_rule(cards_for(client, chart, drafts))


# --------------------------------------------------------------------------- monitoring


def test_refill_without_pdmp_check_lists_it(client):
    chart = monitored_cot_patient(PID, pdmp_days_ago=None)
    card = by_rule(cards_for(client, chart, [draft()]))["monitoring-overdue"]
    assert "PDMP check" in card["summary"]
    assert "suggestions" not in card  # nothing to order for a PDMP check


@pytest.mark.parametrize(
    ("days_ago", "fires"),
    [pytest.param(90, False, id="due-today"), pytest.param(91, True, id="due-yesterday")],
)
def test_pdmp_interval_boundary(client, days_ago, fires):
    chart = monitored_cot_patient(PID, pdmp_days_ago=days_ago)
    assert ("monitoring-overdue" in by_rule(cards_for(client, chart, [draft()]))) is fires


def test_overdue_uds_suggests_a_valid_service_request(client):
    chart = monitored_cot_patient(PID, uds_days_ago=None)
    card = by_rule(cards_for(client, chart, [draft()]))["monitoring-overdue"]
    assert "UDS" in card["summary"]
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert resource["resourceType"] == "ServiceRequest"
    ServiceRequest.model_validate(resource)
    assert resource["subject"] == {"reference": f"Patient/{PID}"}


def test_unexpected_uds_result_is_listed(client):
    from tests.unit.cds_hooks.support import uds

    chart = [
        *monitored_cot_patient(PID),
        uds("uds-coc", AS_OF - timedelta(days=50), "14314-9", "Benzoylecgonine", True, patient=PID),
    ]
    card = by_rule(cards_for(client, chart, [draft()]))["monitoring-overdue"]
    assert "unexpected UDS result" in card["summary"]
    assert card["indicator"] == "warning"


def test_monitoring_card_needs_an_opioid_being_ordered(client):
    chart = monitored_cot_patient(PID, pdmp_days_ago=None)
    cards = by_rule(cards_for(client, chart, [draft(("197591", "diazepam 5 MG Oral Tablet"))]))
    assert "monitoring-overdue" not in cards


# --------------------------------------------------------------------------- high dose


@pytest.mark.parametrize(
    ("per_day", "indicator"),
    [
        pytest.param(2, None, id="15+20-below-50"),
        pytest.param(4, "warning", id="15+40-over-50"),
        pytest.param(8, "critical", id="15+80-over-90"),
    ],
)
def test_total_mme_includes_the_draft(client, per_day, indicator):
    chart = monitored_cot_patient(PID)
    cards = by_rule(cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=per_day)]))
    card = cards.get("mme-at-or-above-threshold")
    assert (card["indicator"] if card else None) == indicator
    if card:
        total = 15 + 10 * per_day
        assert f"{total:.1f} MME/day" in card["summary"]
        assert "(this order)" in card["detail"]


def test_exactly_at_the_threshold_fires(client):
    # oxycodone used up long ago; hydromorphone 2 mg (factor 5) five times a day = 50 MME/day
    chart = monitored_cot_patient(PID, last_fill_days_ago=200)
    cards = by_rule(cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=5)]))
    assert "50.0 MME/day" in cards["mme-at-or-above-threshold"]["summary"]


def test_mme_that_cannot_be_computed_says_so(client):
    chart = monitored_cot_patient(PID)
    unreadable = draft(OXY_5)
    unreadable["dosageInstruction"] = [{"text": "as directed"}]
    del unreadable["dispenseRequest"]
    card = by_rule(cards_for(client, chart, [unreadable]))["mme-at-or-above-threshold"]
    assert "could not be fully computed" in card["summary"]
    # the draft replaces the running oxycodone prescription in the total (same drug), so the
    # total is a floor of 0 and says "at least" instead of under-reporting
    assert "at least" in card["summary"]
    assert "**at least " in card["detail"]
    assert "oxycodone hydrochloride 5 MG Oral Tablet" in card["detail"]


# --------------------------------------------------------------------------- naloxone


def test_high_dose_without_naloxone_suggests_a_valid_naloxone_order(client):
    chart = monitored_cot_patient(PID, naloxone=False)
    card = by_rule(cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=4)]))[
        "naloxone-not-on-record"
    ]
    resource = card["suggestions"][0]["actions"][0]["resource"]
    MedicationRequest.model_validate(resource)
    coding = resource["medicationCodeableConcept"]["coding"][0]
    assert coding["code"] == "1725059"
    assert coding["display"] == load_terminology().rxnorm_display("1725059")
    assert coding["display"] == "naloxone hydrochloride 40 MG/ML Nasal Spray"
    assert resource["intent"] == "order"
    assert resource["requester"] == {"reference": "Practitioner/prac-1"}


def test_naloxone_on_record_suppresses_the_naloxone_card(client):
    chart = monitored_cot_patient(PID, naloxone=True)
    cards = by_rule(cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=4)]))
    assert "naloxone-not-on-record" not in cards


def test_low_dose_without_risk_factors_gets_no_naloxone_card(client):
    chart = monitored_cot_patient(PID, naloxone=False)
    assert "naloxone-not-on-record" not in by_rule(cards_for(client, chart, [draft()]))


def test_naloxone_being_ordered_counts_as_on_record(client):
    chart = monitored_cot_patient(PID, naloxone=False)
    nalox = draft(("1725059", "naloxone hydrochloride 40 MG/ML Nasal Spray"), "draft-nlx")
    cards = by_rule(cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=4), nalox], SIGN))
    assert "naloxone-not-on-record" not in cards


# --------------------------------------------------------------------------- exclusions


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            condition("ca", ICD10, "C34.90", "Malignant neoplasm of lung", patient=PID),
            id="active-cancer",
        ),
        pytest.param(
            condition("scd", SNOMED, "417357006", "Sickle cell disease", patient=PID),
            id="sickle-cell",
        ),
        pytest.param(
            {
                "resourceType": "Procedure",
                "id": "hos",
                "status": "completed",
                "subject": {"reference": f"Patient/{PID}"},
                "code": {"coding": [{"system": SNOMED, "code": "305336008"}]},
                "performedDateTime": "2026-10-20",
            },
            id="hospice",
        ),
    ],
)
def test_cdc_exclusions_suppress_the_order_cards(client, extra):
    chart = [
        *monitored_cot_patient(PID, naloxone=False, pdmp_days_ago=None),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=10), patient=PID),
        extra,
    ]
    without = by_rule(cards_for(client, chart[:-1], [draft(HYDROMORPHONE_2, per_day=8)]))
    assert {"coprescribing", "mme-at-or-above-threshold"} <= set(without)
    assert cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=8)]) == []


def test_under_18_is_excluded(client):
    chart = [
        *monitored_cot_patient(PID, naloxone=False, birth="2010-06-01"),
        dispense("benzo", ALPRAZOLAM, AS_OF - timedelta(days=10), patient=PID),
    ]
    assert cards_for(client, chart, [draft(HYDROMORPHONE_2, per_day=8)]) == []


# --------------------------------------------------------------------------- patient-view


def test_patient_view_gives_one_status_card_with_a_smart_link(client):
    chart = monitored_cot_patient(PID, pdmp_days_ago=None)
    body = hook_request("patient-view", PID, prefetch=prefetch_for(chart))
    cards = client.post(VIEW, json=body).json()["cards"]
    assert len(cards) == 1
    card = cards[0]
    assert card["source"]["topic"]["code"] == "cot-status"
    assert "15.0 MME/day" in card["summary"]
    assert "PDMP" in card["detail"]
    (link,) = card["links"]
    assert link["type"] == "smart"
    assert link["url"].endswith("/launch")
    assert "overrideReasons" not in card


# --------------------------------------------------------------------------- draft shapes


@pytest.mark.parametrize("by", ["id", "urn-uuid"])
def test_a_draft_referencing_a_medication_inside_the_bundle_is_read(client, by):
    order = draft(HYDROMORPHONE_2, per_day=8)
    del order["medicationCodeableConcept"]
    medication = {
        "resourceType": "Medication",
        "id": "med-1",
        "code": {"coding": [{"system": RXNORM, "code": HYDROMORPHONE_2[0]}]},
    }
    full_url = "urn:uuid:0b7f4c1e-1d2a-4a57-9d7a-3f0c2b9e5d11"
    order["medicationReference"] = {"reference": "Medication/med-1" if by == "id" else full_url}
    body = hook_request(
        "order-sign", PID, drafts=[order], prefetch=prefetch_for(monitored_cot_patient(PID))
    )
    body["context"]["draftOrders"]["entry"].append({"fullUrl": full_url, "resource": medication})
    response = client.post(SIGN, json=body)
    card = by_rule(response.json()["cards"])["mme-at-or-above-threshold"]
    assert "95.0 MME/day" in card["summary"]
    assert card["indicator"] == "critical"


def test_patient_view_for_an_excluded_patient_says_the_alerts_do_not_apply(client):
    chart = [
        *monitored_cot_patient(PID),
        condition("scd", SNOMED, "417357006", "Sickle cell disease", patient=PID),
    ]
    body = hook_request("patient-view", PID, prefetch=prefetch_for(chart))
    (card,) = client.post(VIEW, json=body).json()["cards"]
    assert card["summary"].startswith("Opioid alerts do not apply: sickle cell disease")
    assert card["indicator"] == "info"


def test_an_order_that_is_neither_opioid_nor_sedative_is_answered_without_the_chart(client):
    amlodipine = medication_request("d-aml", "197361", "amlodipine 5 MG Oral Tablet", patient=PID)
    body = hook_request("order-sign", PID, drafts=[amlodipine])  # no prefetch, no FHIR access
    response = client.post(SIGN, json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}
