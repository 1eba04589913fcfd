"""HL7 FHIR R4 for clinics' record systems: questionnaires, responses, flags and risk, out; and
questionnaire responses in, through the same ``submit_intake`` as every other intake.

``mapping`` turns the project's records into FHIR resources (plain dicts: the service needs no
FHIR library at run time), ``responses`` reads a posted QuestionnaireResponse back into the
patient and answers ``submit_intake`` takes, ``selectors`` reads published versions, ``views``
are the entry points, ``http`` the media type, negotiation and OperationOutcome errors,
``schema`` the OpenAPI descriptions.
"""
