"""`age-65-or-older`: older adults clear opioids more slowly and fall more.

CDC 2022 Recommendation 8 lists age 65 or older among the factors that raise the risk of
opioid harm. Age is computed from the birth date at `as_of`; the birthday itself counts. With
no birth date nothing is said (the age is not guessed).
"""

from __future__ import annotations

from app.clinical.citations import REC_8_RISK
from app.clinical.model import Finding, Severity
from app.clinical.rules.base import Rule, RuleContext, years_between

OLDER_ADULT_AGE_YEARS = 65


class OlderAdultRule(Rule):
    id = "age-65-or-older"
    title = "Age 65 or older"
    citation = REC_8_RISK
    codes = ("age-65-or-older",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        patient = ctx.chart.patient
        if patient is None or patient.birth_date is None:
            return ()
        age_years = years_between(patient.birth_date, ctx.as_of)
        if age_years < OLDER_ADULT_AGE_YEARS:
            return ()
        return (
            self.finding(
                "age-65-or-older",
                Severity.LOW,
                f"Patient is {age_years}; age 65 or older raises the risk of opioid harm.",
                [patient.ref],
                {"age_years": age_years, "birth_date": patient.birth_date.isoformat()},
            ),
        )
