"""Feedback is stored once; a snooze silences one rule for one patient, then expires; analytics.

CDS Hooks 2.0 "Feedback". The clock is moved by replacing `app.state.cds.clock`.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.cli import main as ppact
from app.storage.feedback import FEEDBACK
from tests.unit.cds_hooks.conftest import NOW, SELECT, SIGN
from tests.unit.cds_hooks.support import (
    ALPRAZOLAM,
    ANCHOR,
    OXY_5,
    dispense,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
)

FEEDBACK_URL = f"{SELECT}/feedback"


@pytest.fixture
def client(make_client):
    """A fresh app and database per test: snoozes and clocks must not leak between tests."""
    return make_client()


IG = "http://fhir.org/guides/cdc/opioid-cds/CodeSystem/opioidcds-overrideReasons"


def chart(pid):
    return [
        *monitored_cot_patient(pid, pdmp_days_ago=None),
        dispense(f"{pid}-benzo", ALPRAZOLAM, ANCHOR - timedelta(days=5), patient=pid, days=90),
    ]


def cards(client, pid="p1"):
    draft = medication_request("d1", *OXY_5, patient=pid, authored=ANCHOR.isoformat())
    body = hook_request("order-select", pid, drafts=[draft], prefetch=prefetch_for(chart(pid)))
    response = client.post(SELECT, json=body)
    assert response.status_code == 200
    return {c["source"]["topic"]["code"]: c for c in response.json()["cards"]}


def override(card_uuid, code, at=NOW, comment=None):
    reason = {"reason": {"system": IG, "code": code, "display": code}}
    if comment:
        reason["userComment"] = comment
    return {
        "card": card_uuid,
        "outcome": "overridden",
        "overrideReason": reason,
        "outcomeTimestamp": at.isoformat().replace("+00:00", "Z"),
    }


def send(client, *items):
    response = client.post(FEEDBACK_URL, json={"feedback": list(items)})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_same_feedback_twice_is_stored_once(client):
    card = cards(client)["coprescribing"]
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-11-02T07:31:00Z",
    }
    assert send(client, item) == {"stored": 1, "duplicates": 0, "snoozes": 0}
    assert send(client, item, item) == {"stored": 0, "duplicates": 2, "snoozes": 0}
    engine = client.app.state.engine
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(FEEDBACK)).scalar() == 1
        row = conn.execute(select(FEEDBACK)).mappings().one()
    assert row["rule"] == "coprescribing"
    assert row["patient_id"] == "p1"
    assert json.loads(row["accepted_suggestions"]) == [card["suggestions"][0]["uuid"]]


def feedback_rows(client):
    with client.app.state.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(FEEDBACK)).scalar()


def test_feedback_on_a_card_of_another_service_is_refused(client):
    card = cards(client)["coprescribing"]
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-02T07:31:00Z"}
    response = client.post(f"{SIGN}/feedback", json={"feedback": [item]})
    assert response.status_code == 400
    assert response.json() == {"error": f"card {card['uuid']} was issued by another service"}
    assert feedback_rows(client) == 0
    assert send(client, item) == {"stored": 1, "duplicates": 0, "snoozes": 0}
    assert client.post(f"{SIGN}/feedback", json={"feedback": [item]}).status_code == 400
    assert feedback_rows(client) == 1


def test_the_same_item_sent_to_two_services_is_stored_once(client):
    # A card this service did not issue (an older deployment's): kept, once.
    item = {
        "card": "0e6c4a52-1111-4a8e-9d7a-3f0c2b9e5d11",
        "outcome": "accepted",
        "outcomeTimestamp": "2026-11-02T07:31:00Z",
    }
    assert send(client, item) == {"stored": 1, "duplicates": 0, "snoozes": 0}
    again = client.post(f"{SIGN}/feedback", json={"feedback": [item]})
    assert again.json() == {"stored": 0, "duplicates": 1, "snoozes": 0}
    assert feedback_rows(client) == 1


def test_a_snooze_silences_that_rule_for_that_patient_until_it_ends(client):
    first = cards(client)
    assert {"coprescribing", "monitoring-overdue"} <= set(first)
    result = send(client, override(first["coprescribing"]["uuid"], "snooze-1-month"))
    assert result["snoozes"] == 1

    again = cards(client)
    assert "coprescribing" not in again
    assert "monitoring-overdue" in again  # other rules still fire
    assert "coprescribing" in cards(client, "p2")  # other patients unaffected

    store = client.app.state.feedback_store
    (snooze,) = store.active_snoozes("p1", NOW)
    assert snooze.rule == "coprescribing"
    assert snooze.until == NOW + timedelta(days=30)

    client.app.state.cds.clock = lambda: NOW + timedelta(days=29, hours=23)
    assert "coprescribing" not in cards(client)
    client.app.state.cds.clock = lambda: NOW + timedelta(days=30, seconds=1)
    assert "coprescribing" in cards(client)
    assert store.active_snoozes("p1", NOW + timedelta(days=30, seconds=1)) == []


def test_snooze_length_is_capped_at_the_longest_policy_choice(make_client, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("snooze:\n  choices_days: [14, 30]\n")
    client = make_client(policy_file=policy)
    card = cards(client)["coprescribing"]
    codes = [r["code"] for r in card["overrideReasons"]]
    assert codes[:2] == ["snooze-14-days", "snooze-1-month"]
    send(client, override(card["uuid"], "snooze-1-year-with-comment", comment="stable for years"))
    (snooze,) = client.app.state.feedback_store.active_snoozes("p1", NOW)
    assert snooze.until - snooze.starts_at == timedelta(days=30)


def test_an_override_without_a_snooze_reason_snoozes_nothing(client):
    card = cards(client)["coprescribing"]
    assert send(client, override(card["uuid"], "comment", comment="discussed"))["snoozes"] == 0
    assert "coprescribing" in cards(client)


def test_feedback_for_an_unknown_card_is_kept_but_snoozes_nothing(client):
    result = send(client, override("not-one-of-ours", "snooze-1-month"))
    assert result == {"stored": 1, "duplicates": 0, "snoozes": 0}


@pytest.mark.parametrize(
    ("item", "status"),
    [
        pytest.param(
            {"card": "x", "outcome": "maybe", "outcomeTimestamp": "2026-11-01"}, 422, id="outcome"
        ),
        pytest.param(
            {"card": "x", "outcome": "accepted", "outcomeTimestamp": "yesterday!"},
            422,
            id="timestamp",
        ),
        pytest.param({"card": "x", "outcome": "accepted"}, 422, id="no-timestamp"),
    ],
)
def test_bad_feedback_is_422(client, item, status):
    response = client.post(FEEDBACK_URL, json={"feedback": [item]})
    assert response.status_code == status
    assert response.json()["error"]


def test_feedback_for_an_unknown_service_is_404(client):
    response = client.post(
        "/cds-services/nope/feedback",
        json={"feedback": [override("x", "comment")]},
    )
    assert response.status_code == 404


def fill_some_history(client):
    first = cards(client)
    send(client, override(first["coprescribing"]["uuid"], "snooze-3-months"))
    send(client, override(first["monitoring-overdue"]["uuid"], "comment"))
    second = cards(client, "p2")
    send(
        client,
        {
            "card": second["coprescribing"]["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": second["coprescribing"]["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": "2026-11-02T07:35:00Z",
        },
    )
    return first, second


def test_report_counts_fired_accepted_overridden_by_reason_and_snoozed(client):
    fill_some_history(client)
    store = client.app.state.feedback_store
    rows = {
        r.rule: r
        for r in store.report(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    }
    assert rows["coprescribing"].fired == 2
    assert rows["coprescribing"].accepted == 1
    assert rows["coprescribing"].overridden == 1
    assert rows["coprescribing"].override_reasons == {"snooze-3-months": 1}
    assert rows["coprescribing"].snoozed == 1
    assert rows["monitoring-overdue"].override_reasons == {"comment": 1}
    empty = store.report(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert empty == []


def test_alerts_page_and_cli_show_the_same_counts(client, tmp_path, monkeypatch, capsys):
    fill_some_history(client)
    page = client.get("/alerts", params={"from": "2026-11-01", "to": "2026-11-01"})
    assert page.status_code == 200
    assert "<code>coprescribing</code>" in page.text
    assert "snooze-3-months: 1" in page.text
    assert "p1" not in page.text  # counts only, no patient data

    monkeypatch.setenv("PPACT_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as done:
        ppact(["alerts", "report", "--from", "2026-11-01", "--to", "2026-11-01", "--json"])
    assert done.value.code == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["rule"]: r for r in report["rules"]}
    assert rows["coprescribing"]["fired"] == 2
    assert rows["coprescribing"]["override_reasons"] == {"snooze-3-months": 1}
    # the cards were issued at 23:30 local time on 2026-11-01: not in the next local day
    with pytest.raises(SystemExit):
        ppact(["alerts", "report", "--from", "2026-11-02", "--to", "2026-11-02", "--json"])
    assert json.loads(capsys.readouterr().out)["rules"] == []


def test_alerts_page_with_reversed_dates_says_so(client):
    page = client.get("/alerts", params={"from": "2026-11-05", "to": "2026-11-01"})
    assert page.status_code == 200
    assert "end date is before the start date" in page.text


def test_cli_refuses_reversed_dates(capsys):
    with pytest.raises(SystemExit) as done:
        ppact(["alerts", "report", "--from", "2026-11-05", "--to", "2026-11-01"])
    assert done.value.code == 2
    assert "before" in capsys.readouterr().err
    assert date(2026, 11, 1)  # dates are parsed, not compared as strings


@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_alerts_page_refuses_dates_out_of_range_in_one_line(client, param, day):
    page = client.get("/alerts", params={param: day})
    assert page.status_code == 400
    assert f"dates must be between 1900-01-01 and 2999-12-31, got {day}" in page.text


def test_alerts_page_takes_the_widest_range_allowed(client):
    fill_some_history(client)
    page = client.get("/alerts", params={"from": "1900-01-01", "to": "2999-12-31"})
    assert page.status_code == 200
    assert "<code>coprescribing</code>" in page.text


def test_cli_refuses_dates_out_of_range_in_one_line(capsys):
    with pytest.raises(SystemExit) as done:
        ppact(["alerts", "report", "--to", "9999-12-31"])
    assert done.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "date must be between 1900-01-01 and 2999-12-31, got 9999-12-31" in line
