"""Interoperability with other systems (FHIR R4).  It sits above the apps it maps."""
