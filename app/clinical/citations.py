"""Guideline citations the findings rest on.

Each rule cites the recommendation of the CDC Clinical Practice Guideline for Prescribing
Opioids for Pain (MMWR Recomm Rep 2022;71(No. RR-3)) that it implements, the CDC Opioid
Prescribing Support Implementation Guide (whose CQL the MME and inclusion logic follow), or the
Six Building Blocks program (AHRQ) for clinic standard work such as agreements and visit
intervals. Labels are short enough for a CDS card `source.label`.
"""

from __future__ import annotations

from app.clinical.model import Citation

CDC_2022_URL = "https://www.cdc.gov/mmwr/volumes/71/rr/rr7103a1.htm"
OPIOID_IG_URL = "https://build.fhir.org/ig/cqframework/opioid-cds-r4/"
SIX_BUILDING_BLOCKS_URL = (
    "https://www.ahrq.gov/patient-safety/settings/ambulatory/improve/six-building-blocks.html"
)


def cdc_2022(number: int, topic: str) -> Citation:
    """A citation of one numbered recommendation (1-12) of the CDC 2022 guideline."""
    if not 1 <= number <= 12:
        raise ValueError(f"CDC 2022 recommendation number must be 1-12, got {number}")
    return Citation(label=f"CDC 2022 Recommendation {number}: {topic}", url=CDC_2022_URL)


REC_3_ER_LA = cdc_2022(3, "immediate-release opioids instead of ER/LA")
REC_5_DOSAGE = cdc_2022(5, "MME thresholds and tapering of continued opioid therapy")
REC_7_FOLLOW_UP = cdc_2022(7, "regular evaluation of benefits and harms")
REC_8_RISK = cdc_2022(8, "evaluate overdose risk and offer naloxone")
REC_9_PDMP = cdc_2022(9, "review the PDMP")
REC_10_TOXICOLOGY = cdc_2022(10, "toxicology testing")
REC_11_SEDATIVES = cdc_2022(11, "benzodiazepines and other CNS depressants")
REC_12_OUD = cdc_2022(12, "treatment for opioid use disorder")

OPIOID_IG = Citation(label="CDC Opioid Prescribing Support IG", url=OPIOID_IG_URL)
OPIOID_IG_MME = Citation(
    label="CDC Opioid Prescribing Support IG: MME calculation", url=OPIOID_IG_URL
)
OPIOID_IG_INCLUSION = Citation(
    label="CDC Opioid Prescribing Support IG: general inclusion criteria", url=OPIOID_IG_URL
)

SIX_BB_AGREEMENTS = Citation(
    label="Six Building Blocks 2: policies, patient agreements and workflows",
    url=SIX_BUILDING_BLOCKS_URL,
)
SIX_BB_TRACKING = Citation(
    label="Six Building Blocks 3: tracking and monitoring patient care", url=SIX_BUILDING_BLOCKS_URL
)
SIX_BB_VISITS = Citation(
    label="Six Building Blocks 4: planned, patient-centred visits", url=SIX_BUILDING_BLOCKS_URL
)

ALL_CITATIONS: tuple[Citation, ...] = (
    REC_3_ER_LA,
    REC_5_DOSAGE,
    REC_7_FOLLOW_UP,
    REC_8_RISK,
    REC_9_PDMP,
    REC_10_TOXICOLOGY,
    REC_11_SEDATIVES,
    REC_12_OUD,
    OPIOID_IG,
    OPIOID_IG_MME,
    OPIOID_IG_INCLUSION,
    SIX_BB_AGREEMENTS,
    SIX_BB_TRACKING,
    SIX_BB_VISITS,
)
