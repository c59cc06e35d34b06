"""Retrospective audit of a FHIR Bulk Data export (see docs/audit.md)."""
