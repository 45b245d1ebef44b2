"""Synthetic chronic-opioid-therapy cohort as FHIR R4 transaction Bundles (`ppact synth`).

Demo and test data for the SMART app, the CDS service and a local HAPI server. Generation is
deterministic (`random.Random` seeded per patient, no clock, no uuid4): the same seed and
anchor give byte-identical files. Every resource is tagged ``urn:ppact-cot:tags|synthetic-
cohort`` and every entry is a PUT to ``Type/id``, so loads are idempotent. Codes are real
RxNorm, LOINC, SNOMED CT and ICD-10-CM codes from the CDC opioid CDS value sets and OMTK drug
table, embedded in `codes.py`. Names are made up ("Avery Synth0001").

Every PPACT episode carries 2-3 FHIR Goals set at intake, judged at discharge (`goals.py`).
Some archetypes carry non-opioid and non-drug treatments (`treatments.py`): ServiceRequest
referrals (physical therapy, CBT for chronic pain, pain psychology) and a duloxetine or naproxen
MedicationRequest, added after every other resource so nothing else changes.

Archetypes (patient 1 is COMPLEX, patient 15 is the minor, the rest cycle through the list):

- ``complex-high-risk`` (``ppact-0001``): fentanyl patch 25->50->75 mcg/h plus oxycodone IR
  15->30 mg every 6 h (about 360 MME/day at the anchor), alprazolam, gabapentin, carisoprodol
  and zolpidem; four prescribers, three pharmacies, many early refills; UDS with unexpected
  results; PPACT episode with intake and discharge PEG/PHQ-9/GAD-7, weekly notes and three
  goals (one achieved, one improving, one not achieved); no naloxone; referrals to physical
  therapy, CBT for chronic pain and pain psychology, and duloxetine. More than 300 medication
  resources.
- ``high-dose-er``: oxycodone ER or morphine ER with IR breakthrough, sometimes a
  benzodiazepine, sometimes a PPACT episode, naloxone for some.
- ``taper``: morphine ER 60 mg twice daily tapered to stop, IR reduced; PPACT episode
  (finished for some, ongoing at the anchor for others); naloxone; CBT referral, duloxetine.
- ``escalation``: hydrocodone/APAP escalating to oxycodone IR, then oxycodone ER added;
  sparse monitoring; a pain psychology referral.
- ``stable-monitored``: one low-dose opioid, every monitoring item done on time, naloxone;
  physical therapy (completed) and naproxen.
- ``methadone-pain``: methadone for pain, sometimes with clonazepam.
- ``buprenorphine-patch``: Butrans 5->10->20 mcg/h weekly patches.
- ``moud``: oxycodone misuse then buprenorphine/naloxone (Suboxone film) for OUD, frequent UDS.
- ``tramadol-tapentadol``: tramadol or tapentadol IR then ER, sometimes cyclobenzaprine.
- ``short-course``: one to three 3-7 day opioid courses; not chronic therapy.
- ``excluded-cancer``: lung cancer on oxycodone ER/IR (cancer exclusion).
- ``excluded-hospice``: pancreatic cancer, morphine, discharge to hospice (hospice exclusion).
- ``excluded-minor``: a 16-year-old with a 5-day hydrocodone course after a fracture.
- ``messy-chart``: every kind of messiness real charts have: text-only sigs, contained
  Medications (``#med1``), medicationReference to a Medication in the bundle, an unknown
  RxNorm code, entered-in-error and cancelled orders, PRN orders with maxDosePerPeriod, dose
  ranges, doseQuantity in v3-orderableDrugForm units (Epic style), partial dates. Other
  archetypes show single messy features now and then.

About a third of adults are 65 or older.
"""

from app.synth.bundle import generate_cohort, most_complex_patient_id, write_cohort
from app.synth.cohort import Archetype, archetype_for

__all__ = [
    "Archetype",
    "archetype_for",
    "generate_cohort",
    "most_complex_patient_id",
    "write_cohort",
]
