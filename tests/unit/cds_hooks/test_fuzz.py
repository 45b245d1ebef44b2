"""Fuzz the HTTP API with hypothesis: whatever the body or header, never a 5xx.

Three generators: arbitrary bytes, arbitrary JSON, and a valid request with one member
replaced by arbitrary JSON (the inputs most likely to get past the first checks). Example counts
are kept small so the suite stays fast; the derandomized profile makes failures reproducible.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from tests.unit.cds_hooks.conftest import SELECT, SIGN, VIEW
from tests.unit.cds_hooks.support import (
    ANCHOR,
    OXY_5,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
URLS = st.sampled_from([SELECT, SIGN, VIEW, f"{SELECT}/feedback", "/cds-services/x"])
PATHS = [
    ("hook",),
    ("hookInstance",),
    ("context",),
    ("context", "patientId"),
    ("context", "userId"),
    ("context", "selections"),
    ("context", "draftOrders"),
    ("context", "draftOrders", "entry"),
    ("context", "draftOrders", "entry", 0),
    ("context", "draftOrders", "entry", 0, "resource"),
    ("context", "draftOrders", "entry", 0, "resource", "dosageInstruction"),
    ("context", "draftOrders", "entry", 0, "resource", "medicationCodeableConcept"),
    ("context", "draftOrders", "entry", 0, "resource", "dispenseRequest"),
    ("context", "draftOrders", "entry", 0, "resource", "medicationReference"),
    ("prefetch",),
    ("prefetch", "patient"),
    ("prefetch", "medication-request"),
    ("prefetch", "medication-dispense", "entry"),
    ("prefetch", "observation-laboratory", "entry", 0, "resource"),
    ("fhirServer",),
    ("fhirAuthorization",),
]


@pytest.fixture(scope="module")
def base_request():
    draft = medication_request("d1", *OXY_5, patient="p1", authored=ANCHOR.isoformat())
    return hook_request(
        "order-select", "p1", drafts=[draft], prefetch=prefetch_for(monitored_cot_patient("p1"))
    )


def assert_handled(response):
    assert response.status_code < 500, response.text
    response.json()


@FUZZ
@given(url=URLS, content=st.binary(max_size=300))
def test_arbitrary_bytes_never_5xx(client, url, content):
    assert_handled(client.post(url, content=content))


@FUZZ
@given(url=URLS, value=json_values)
def test_arbitrary_json_never_5xx(client, url, value):
    assert_handled(client.post(url, json=value))


@FUZZ
@given(path=st.sampled_from(PATHS), value=json_values)
def test_a_valid_request_with_one_member_replaced_never_5xx(client, base_request, path, value):
    request = copy.deepcopy(base_request)
    target = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert_handled(client.post(SELECT, json=request))


@pytest.fixture
def signed_client(make_client):
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    issuer = {"iss": "https://ehr.example.org", "jwks": {"keys": [key.as_dict(private=False)]}}
    return make_client(cds_allow_unsigned=False, cds_trusted_issuers=[issuer])


@FUZZ
@given(authorization=st.text(alphabet=st.characters(max_codepoint=255), max_size=200))
def test_arbitrary_authorization_headers_are_401(signed_client, authorization):
    response = signed_client.get(
        "/cds-services", headers={"Authorization": authorization.encode("latin-1")}
    )
    assert response.status_code == 401, response.text


day_params = st.dates().map(date.isoformat) | st.text(max_size=12)


@FUZZ
@given(start=st.none() | day_params, end=st.none() | day_params)
def test_alerts_page_dates_never_5xx(client, start, end):
    params = {k: v for k, v in (("from", start), ("to", end)) if v is not None}
    response = client.get("/alerts", params=params)
    assert response.status_code in (200, 400), response.text
