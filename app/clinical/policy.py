"""The clinic's COT policy: one YAML file every surface reads.

Building Block 2 of the Six Building Blocks asks each clinic to write down its COT policy: what
counts as chronic opioid therapy, which MME levels call for action, how often urine drug screens,
agreements, PDMP checks and visits are due, how much early refill is tolerated and which sedatives
alert. The summary's due dates, the CDS rules and the console's measures all read this one
`ClinicPolicy`, so they cannot disagree.

The documented default file is `data/default_policy.yaml` (every key commented there and in
`docs/policy.md`); `default_policy()` equals parsing it. A file may leave out any section or key,
which then takes its default. Anything wrong is a `PolicyError` with one line that names the key
and the value, e.g. ``policy: mme.thresholds[1]: must be a number > 0, got 'ninety'``.

Errors::

    ValueError
      PolicyError       not YAML, not a mapping, unknown key, wrong type or out-of-range value
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.clinical.model import CNS_DEPRESSANT_SUBCLASSES, DrugClass

DEFAULT_POLICY_PATH = Path(__file__).parent / "data" / "default_policy.yaml"

#: Drug classes a clinic may choose to alert on when co-prescribed with an opioid.
SEDATIVE_CLASSES: tuple[DrugClass, ...] = (
    DrugClass.BENZODIAZEPINE,
    *sorted(CNS_DEPRESSANT_SUBCLASSES, key=lambda c: c.value),
)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is one line naming key and value."""


class _Rule:
    """What a value must be, in words; attached to a type and quoted in errors."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"_Rule({self.text!r})"


def _sedative_class(value: object) -> DrugClass:
    allowed = ", ".join(c.value for c in SEDATIVE_CLASSES)
    if isinstance(value, DrugClass) and value in SEDATIVE_CLASSES:
        return value
    if isinstance(value, str) and value in {c.value for c in SEDATIVE_CLASSES}:
        return DrugClass(value)
    raise PydanticCustomError("sedative_class", "must be one of {allowed}", {"allowed": allowed})


def _year_as_text(value: object) -> object:
    # `edition: 2022` unquoted is an int in YAML; the author meant the edition name.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


PositiveDays = Annotated[int, Field(gt=0), _Rule("must be a whole number of days > 0")]
NonNegativeDays = Annotated[int, Field(ge=0), _Rule("must be a whole number of days >= 0")]
PositiveCount = Annotated[int, Field(gt=0), _Rule("must be a whole number > 0")]
PositiveNumber = Annotated[float, Field(gt=0), _Rule("must be a number > 0")]
Percent = Annotated[
    float | None, Field(gt=0, le=100), _Rule("must be a number > 0 and <= 100, or null")
]
AgeYears = Annotated[int, Field(ge=0), _Rule("must be a whole number of years >= 0")]
Flag = Annotated[bool, _Rule("must be true or false")]
SedativeClass = Annotated[
    DrugClass,
    BeforeValidator(_sedative_class),
    _Rule("must be one of " + ", ".join(c.value for c in SEDATIVE_CLASSES)),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _ascending_unique(values: list[Any]) -> list[Any]:
    if not values:
        raise PydanticCustomError("policy", "must list at least one value")
    if any(b <= a for a, b in pairwise(values)):
        raise PydanticCustomError(
            "policy",
            "must be in ascending order without repeats, got {got}",
            {"got": _show(values)},
        )
    return values


class CotPolicy(_Section):
    """What counts as chronic opioid therapy (see docs/policy.md for the two definitions)."""

    definition: Annotated[
        Literal["days-supplied", "cdc-2022-most-days"],
        _Rule("must be one of days-supplied, cdc-2022-most-days"),
    ] = "days-supplied"
    lookback_days: PositiveDays = 90
    min_days_supplied: PositiveDays = 60

    @model_validator(mode="after")
    def _min_within_lookback(self) -> CotPolicy:
        if self.min_days_supplied > self.lookback_days:
            raise PydanticCustomError(
                "policy",
                "min_days_supplied ({got}) must not exceed lookback_days ({lookback})",
                {"got": self.min_days_supplied, "lookback": self.lookback_days},
            )
        return self


class MmePolicy(_Section):
    """Which CDC factor edition to use and the MME/day levels that call for action."""

    edition: Annotated[
        Literal["2022", "2016"],
        BeforeValidator(_year_as_text),
        _Rule("must be one of '2022', '2016'"),
    ] = "2022"
    thresholds: list[PositiveNumber] = Field(default_factory=lambda: [50.0, 90.0])
    outside_2022_table: Annotated[
        Literal["compilation", "not-computable"],
        _Rule("must be one of compilation, not-computable"),
    ] = "compilation"

    @field_validator("thresholds")
    @classmethod
    def _thresholds_ascending(cls, values: list[float]) -> list[float]:
        return _ascending_unique(values)


class MonitoringPolicy(_Section):
    """How often each monitoring item is due, and how early it shows as due soon."""

    uds_days: PositiveDays = 365
    agreement_days: PositiveDays = 365
    pdmp_days: PositiveDays = 90
    opioid_visit_days: PositiveDays = 90
    peg_days: PositiveDays = 182
    phq9_days: PositiveDays = 182
    due_soon_days: NonNegativeDays = 30


class EarlyRefillPolicy(_Section):
    """How much earlier than the previous supply runs out a refill may come."""

    tolerance_days: NonNegativeDays = 3
    tolerance_percent: Percent = None
    lookback_days: PositiveDays = 180


class SedativePolicy(_Section):
    """Which drug classes alert when co-prescribed with an opioid."""

    alert_classes: list[SedativeClass] = Field(
        default_factory=lambda: [
            DrugClass.BENZODIAZEPINE,
            DrugClass.GABAPENTINOID,
            DrugClass.Z_DRUG,
            DrugClass.MUSCLE_RELAXANT,
            DrugClass.BARBITURATE,
        ]
    )

    @field_validator("alert_classes")
    @classmethod
    def _no_repeats(cls, values: list[DrugClass]) -> list[DrugClass]:
        repeated = sorted({v.value for v in values if values.count(v) > 1})
        if repeated:
            raise PydanticCustomError(
                "policy", "lists {got} more than once", {"got": ", ".join(repeated)}
            )
        return values


class PrescriberPolicy(_Section):
    """Multiple prescribers / pharmacies: a count at or over the maximum triggers."""

    max_prescribers: PositiveCount = 3
    max_pharmacies: PositiveCount = 3
    lookback_days: PositiveDays = 180


class NaloxonePolicy(_Section):
    """MME/day at or above which naloxone is suggested."""

    at_risk_mme: PositiveNumber = 50.0


class SnoozePolicy(_Section):
    """The snooze lengths offered on a finding."""

    choices_days: list[PositiveDays] = Field(default_factory=lambda: [30, 90, 182, 365])

    @field_validator("choices_days")
    @classmethod
    def _choices_ascending(cls, values: list[int]) -> list[int]:
        return _ascending_unique(values)


class ExclusionPolicy(_Section):
    """Patients the COT rules leave out (CDC 2022 scope: not cancer, sickle cell, end of life)."""

    age_under: AgeYears = 18
    cancer: Flag = True
    hospice: Flag = True
    sickle_cell: Flag = True


class ClinicPolicy(_Section):
    """The whole clinic policy; every section and key has a documented default."""

    cot: CotPolicy = Field(default_factory=CotPolicy)
    mme: MmePolicy = Field(default_factory=MmePolicy)
    monitoring: MonitoringPolicy = Field(default_factory=MonitoringPolicy)
    early_refill: EarlyRefillPolicy = Field(default_factory=EarlyRefillPolicy)
    sedatives: SedativePolicy = Field(default_factory=SedativePolicy)
    prescribers: PrescriberPolicy = Field(default_factory=PrescriberPolicy)
    naloxone: NaloxonePolicy = Field(default_factory=NaloxonePolicy)
    snooze: SnoozePolicy = Field(default_factory=SnoozePolicy)
    exclusions: ExclusionPolicy = Field(default_factory=ExclusionPolicy)


def default_policy() -> ClinicPolicy:
    """The documented defaults; equal to `parse_policy(default_policy_text())`."""
    return ClinicPolicy()


def default_policy_text() -> str:
    """The commented default policy file, to show or to copy as a starting point."""
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def parse_policy(text: str) -> ClinicPolicy:
    """Parse and validate a YAML policy file.

    Args:
        text: the YAML text. An empty file gives the defaults.

    Returns:
        The validated, frozen policy.

    Raises:
        PolicyError: one line naming the first bad key and its value.
    """
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKeyError as exc:
        raise PolicyError(f"policy: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise PolicyError(f"policy: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(
            f"policy: must be a mapping of sections ({', '.join(ClinicPolicy.model_fields)}), "
            f"got {_show(data)}"
        )
    try:
        return ClinicPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_one_line(exc)) from None


class _DuplicateKeyError(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (PyYAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKeyError(f"{key}: key given twice (second time at line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# --------------------------------------------------------------------------- error messages


def _one_line(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    key = _key(loc)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_parent_model(loc).model_fields)
        return f"policy: {key}: unknown key (allowed: {allowed}){more}"
    if kind == "policy":
        return f"policy: {key}: {first['msg']}{more}"
    rule = _rule_for(loc)
    return f"policy: {key}: {rule}, got {_show(first['input'])}{more}"


def _key(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _parent_model(loc: tuple[int | str, ...]) -> type[BaseModel]:
    model: type[BaseModel] = ClinicPolicy
    for part in loc[:-1]:
        if isinstance(part, str) and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
    return model


def _rule_for(loc: tuple[int | str, ...]) -> str:
    """The `_Rule` text of the field (or list item) at `loc`."""
    metadata: list[Any] = []
    annotation: Any = ClinicPolicy
    for part in loc:
        if isinstance(part, str):
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                break
            field = annotation.model_fields.get(part)
            if field is None:
                break
            annotation, metadata = field.annotation, list(field.metadata)
        else:
            args = get_args(annotation)
            if get_origin(annotation) is not list or not args:
                break
            item = args[0]
            metadata = list(getattr(item, "__metadata__", ()))
            annotation = get_args(item)[0] if metadata else item
    for entry in metadata:
        if isinstance(entry, _Rule):
            return entry.text
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"must be a mapping with keys {', '.join(annotation.model_fields)}"
    if get_origin(annotation) is list:
        return "must be a list"
    return "has the wrong type"


def _show(value: object) -> str:
    """A value as the policy author wrote it: YAML spelling for scalars, short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
