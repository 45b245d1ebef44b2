"""Typed models of the CDS Hooks 2.0 JSON: discovery, request, response (cards) and feedback.

Follows CDS Hooks 2.0.1 (https://cds-hooks.hl7.org/2.0/): "Discovery", "Calling a CDS
Service", "CDS Service Response" (Card, Source, Suggestion, Action, Link) and "Feedback". Requests
allow extra members (the spec allows `extension` and clients add vendor fields); the responses we
build forbid them. OPTIONAL members are `None` by default and dropped on output by `dump`, so no
`null` ever reaches a client; optional lists are either left out or non-empty (the spec's "Null
and empty JSON elements").
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
HOOKS = ("patient-view", "order-select", "order-sign")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict without `None` members (the spec forbids nulls)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------- discovery


class ServiceDescription(_Out):
    """One entry of `GET /cds-services` ("Discovery")."""

    hook: str
    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    description: str
    title: str | None = None
    prefetch: dict[str, str] | None = None
    usage_requirements: str | None = Field(default=None, alias="usageRequirements")


class Discovery(_Out):
    services: list[ServiceDescription]


# --------------------------------------------------------------------------- request


class FhirAuthorization(_In):
    """`fhirAuthorization` ("FHIR Resource Access"); the token is never stored or logged."""

    access_token: str = Field(min_length=1, repr=False)
    token_type: Literal["Bearer", "bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookContext(_In):
    """`context` of patient-view, order-select and order-sign (CDS Hooks Library)."""

    user_id: str = Field(alias="userId", min_length=1)
    patient_id: str = Field(alias="patientId", pattern=r"^[A-Za-z0-9\-.]{1,64}$")
    encounter_id: str | None = Field(default=None, alias="encounterId")
    selections: list[str] | None = None
    draft_orders: dict[str, Any] | None = Field(default=None, alias="draftOrders")


class CdsRequest(_In):
    """The body of `POST /cds-services/{id}` ("Calling a CDS Service")."""

    hook: str
    hook_instance: str = Field(alias="hookInstance", pattern=UUID_PATTERN)
    context: HookContext
    fhir_server: str | None = Field(default=None, alias="fhirServer")
    fhir_authorization: FhirAuthorization | None = Field(default=None, alias="fhirAuthorization")
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> CdsRequest:
        if self.fhir_authorization is not None and not self.fhir_server:
            raise ValueError("fhirServer is required when fhirAuthorization is present")
        return self


# --------------------------------------------------------------------------- response


class Coding(_Out):
    system: str
    code: str
    display: str | None = None


class OverrideReason(_Out):
    """An override reason Coding; the spec requires `display` here."""

    system: str
    code: str
    display: str = Field(min_length=1)


class Source(_Out):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Out):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resource_id: str | None = Field(default=None, alias="resourceId")

    @model_validator(mode="after")
    def _target(self) -> Action:
        if self.type == "delete" and not self.resource_id:
            raise ValueError("a delete action needs resourceId")
        if self.type != "delete" and not self.resource:
            raise ValueError(f"a {self.type} action needs resource")
        return self


class Suggestion(_Out):
    label: str = Field(min_length=1)
    uuid: str = Field(pattern=UUID_PATTERN)
    is_recommended: bool | None = Field(default=None, alias="isRecommended")
    actions: list[Action] = Field(min_length=1)


class Link(_Out):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    app_context: str | None = Field(default=None, alias="appContext")
    autolaunchable: bool | None = None


class Card(_Out):
    """A card ("Card Attributes"); summary under 140 characters, markdown detail."""

    uuid: str = Field(pattern=UUID_PATTERN)
    summary: str = Field(min_length=1, max_length=140)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, min_length=1)
    selection_behavior: Literal["at-most-one", "any"] | None = Field(
        default=None, alias="selectionBehavior"
    )
    override_reasons: list[OverrideReason] | None = Field(
        default=None, alias="overrideReasons", min_length=1
    )
    links: list[Link] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _selection_behavior(self) -> Card:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when suggestions are present")
        if not self.suggestions and self.selection_behavior is not None:
            raise ValueError("selectionBehavior without suggestions")
        return self


class CdsResponse(_Out):
    cards: list[Card]


# --------------------------------------------------------------------------- feedback


class AcceptedSuggestion(_In):
    id: str = Field(min_length=1)


class FeedbackCoding(_In):
    system: str | None = None
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReasonFeedback(_In):
    reason: FeedbackCoding | None = None
    user_comment: str | None = Field(default=None, alias="userComment", max_length=4000)


class FeedbackItem(_In):
    """One element of `feedback[]` ("Feedback")."""

    card: str = Field(min_length=1, max_length=128)
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: list[AcceptedSuggestion] | None = Field(
        default=None, alias="acceptedSuggestions"
    )
    override_reason: OverrideReasonFeedback | None = Field(default=None, alias="overrideReason")
    outcome_timestamp: str = Field(alias="outcomeTimestamp", min_length=10, max_length=40)


class FeedbackRequest(_In):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=500)
