"""The integrator's workbench: a loopback web page that plays the EHR for both hooks.

It talks to the CDS service and the FHIR server over HTTP only, as an EHR would, and is never
part of the production service (`cpt97124 workbench`, docs/integrators.md).
"""
