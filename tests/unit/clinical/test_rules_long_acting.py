"""long-acting-opioid: an ER/LA opioid active at as-of."""

from app.clinical.model import Chart, DrugClass, MmeLine, Severity
from app.clinical.rules.long_acting import LongActingOpioidRule
from tests.unit.clinical._rules_factory import (
    AS_OF,
    PATIENT,
    context,
    days_before,
    med,
    mme_total,
    opioid,
)


def test_er_opioid_covering_as_of_is_flagged():
    er = opioid(
        "MedicationRequest/er", days_before(10), 30, long_acting=True, text="OxyContin 20 mg"
    )
    (finding,) = LongActingOpioidRule().evaluate(context(Chart(patient=PATIENT, medications=(er,))))
    assert finding.code == "long-acting-opioid"
    assert finding.severity is Severity.LOW
    assert finding.evidence == ("MedicationRequest/er",)
    assert finding.data["medications"] == ["OxyContin 20 mg"]


def test_er_opioid_that_ran_out_before_as_of_is_not_flagged():
    # 30 days from day -30 covers days -30 .. -1; as_of is day 0.
    er = opioid("MedicationRequest/er", days_before(30), 30, long_acting=True)
    assert LongActingOpioidRule().evaluate(context(Chart(medications=(er,)))) == ()


def test_immediate_release_opioid_is_not_flagged():
    ir = opioid("MedicationRequest/ir", days_before(5), 30)
    assert LongActingOpioidRule().evaluate(context(Chart(medications=(ir,)))) == ()


def test_long_acting_non_opioid_is_not_flagged():
    benzo = med("MedicationRequest/b", DrugClass.BENZODIAZEPINE, days_before(5), long_acting=True)
    assert LongActingOpioidRule().evaluate(context(Chart(medications=(benzo,)))) == ()


def test_draft_er_order_is_flagged():
    draft = opioid("MedicationRequest/draft", AS_OF, 30, long_acting=True, status="draft")
    (finding,) = LongActingOpioidRule().evaluate(context(drafts=(draft,)))
    assert finding.evidence == ("MedicationRequest/draft",)


def test_er_opioid_in_mme_scope_without_supply_window_is_not_lost():
    undated = opioid("MedicationRequest/er", None, None, long_acting=True)
    line = MmeLine(
        ref="MedicationRequest/er",
        code=None,
        display="OxyContin",
        mme_per_day=None,
        daily_dose=None,
        unit=None,
        complete=False,
        long_acting=True,
    )
    ctx = context(Chart(medications=(undated,)), mme=mme_total(0.0, complete=False, lines=(line,)))
    (finding,) = LongActingOpioidRule().evaluate(ctx)
    assert finding.evidence == ("MedicationRequest/er",)
