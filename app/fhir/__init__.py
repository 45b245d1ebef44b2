"""FHIR access at the edge: one async client, the patient record loader."""
