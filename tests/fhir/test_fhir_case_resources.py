"""An intake as FHIR R4 resources for clinicians: its QuestionnaireResponse, Flags and
RiskAssessment; valid R4, with the same sign-in, scoping and audit as the REST case API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent, Clinic, Clinician
from core.tokens import issue_token
from intake.models import Submission
from intake.selectors import current_version
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from intake.services.submissions import submit_intake
from interop.fhir import mapping
from tests.factories import FHIR_JSON, PATIENT, ROUTINE, api, fhir_json, issues

pytestmark = pytest.mark.django_db

URL = mapping.questionnaire_url("upper-back-pain")
BUSY = {**ROUTINE, "chest_pain": True, "jaundice": True, "night_sweats": True,
        "history_of_cancer": True, "cancer_details": "Breast cancer, 2010",
        "pain_radiates_to": ["left_arm", "jaw"], "numbness_tingling": ["arms_hands"],
        "pain_severity": 8}


def make(answers=ROUTINE, patient=PATIENT) -> Submission:
    return submit_intake(patient=patient, answers=answers).submission


def paths(reference):
    return [f"/api/fhir/QuestionnaireResponse/{reference}",
            f"/api/fhir/Flag?subject={reference}",
            f"/api/fhir/RiskAssessment?subject={reference}"]


def answers_of(response: dict) -> dict[str, list[dict]]:
    return {item["linkId"]: item["answer"] for group in response["item"]
            for item in group["item"]}


class TestQuestionnaireResponse:
    def test_a_submission_is_a_valid_response_with_typed_answers(self, clinician):
        case = make(BUSY)
        body = fhir_json(api(clinician).get(f"/api/fhir/QuestionnaireResponse/{case.reference}"))
        assert body["id"] == case.reference
        assert body["identifier"] == {"system": "http://127.0.0.1:8000/fhir/submission",
                                      "value": case.reference}
        assert body["questionnaire"] == f"{URL}|2"
        assert body["status"] == "completed"
        assert body["authored"] == mapping.instant(case.submitted_at)
        answers = answers_of(body)
        assert answers["chest_pain"] == [{"valueBoolean": True}]
        assert answers["pain_severity"] == [{"valueInteger": 8}]
        assert answers["cancer_details"] == [{"valueString": "Breast cancer, 2010"}]
        assert answers["sex"] == [{"valueCoding": {
            "system": f"{URL}/choices/sex", "code": "female", "display": "Female"}}]
        assert [a["valueCoding"]["code"] for a in answers["pain_radiates_to"]] == \
            ["jaw", "left_arm"]
        assert set(answers) == set(case.answers)

    def test_items_are_grouped_like_the_questionnaire_with_the_text_as_shown(self, clinician):
        case = make()
        as_shown = case.questionnaire_version.questions.get(code="chest_pain").text
        # The question is reworded in a newer version; the case keeps the words it was asked in.
        draft = create_draft_from(current_version())
        draft.questions.filter(code="chest_pain").update(text="Reworded since")
        publish_version(draft)
        body = fhir_json(api(clinician).get(f"/api/fhir/QuestionnaireResponse/{case.reference}"))
        questionnaire = fhir_json(api().get("/api/fhir/Questionnaire/upper-back-pain-2"))
        assert [g["linkId"] for g in body["item"]] == \
            [g["linkId"] for g in questionnaire["item"]]
        chest = next(i for g in body["item"] for i in g["item"] if i["linkId"] == "chest_pain")
        assert chest["text"] == as_shown

    def test_the_patient_is_contained_and_is_the_subject(self, clinician):
        case = make()
        body = fhir_json(api(clinician).get(f"/api/fhir/QuestionnaireResponse/{case.reference}"))
        assert body["subject"] == {"reference": "#patient"}
        assert body["contained"] == [{
            "resourceType": "Patient", "id": "patient", "name": [{"text": "Ada Example"}],
            "telecom": [{"system": "phone", "value": "+44 7700 900123"},
                        {"system": "email", "value": "ada@example.org"}],
            "birthDate": "1971-03-02"}]

    def test_an_anonymised_submission_is_still_valid(self, clinician):
        case = make(BUSY)
        Submission.objects.filter(pk=case.pk).update(full_name="", date_of_birth=None, phone="",
                                                     email="")
        client = api(clinician)
        for path in paths(case.reference):
            body = fhir_json(client.get(path))
            resource = body["entry"][0]["resource"] if body["resourceType"] == "Bundle" else body
            assert resource["contained"] == [{"resourceType": "Patient", "id": "patient"}]

    def test_queries_do_not_grow_with_the_answers(self, clinician):
        client = api(clinician)

        def count(case):
            with CaptureQueriesContext(connection) as queries:
                fhir_json(client.get(f"/api/fhir/QuestionnaireResponse/{case.reference}"))
            return len(queries)

        # Both without an alert (whose deliveries get_case loads too), one with more answers:
        # a minor fall, which is only reviewed ("soon").
        more = make({**ROUTINE, "recent_trauma": True, "trauma_mechanism": ["minor_fall_or_knock"],
                     "trauma_details": "Slipped on the kitchen floor."})
        assert more.urgency == "soon"
        assert len(more.answers) > len(make().answers)
        assert count(make()) == count(more)


class TestFlagsAndRisk:
    def test_each_flag_is_a_valid_flag_of_the_intake(self, clinician):
        case = make(BUSY)
        body = fhir_json(api(clinician).get("/api/fhir/Flag", {"subject": case.reference}))
        assert body["type"] == "searchset"
        flags = [entry["resource"] for entry in body["entry"]]
        stored = list(case.flags.order_by("position"))
        assert body["total"] == len(flags) == len(stored) > 1
        for flag, rule in zip(flags, stored, strict=True):
            assert flag["status"] == "active"
            assert flag["code"]["coding"][0]["code"] == rule.rule_code
            assert flag["code"]["text"] == rule.explanation
            assert flag["category"][0]["coding"][0]["code"] == rule.category
            assert flag["period"] == {"start": mapping.instant(case.submitted_at)}
            assert flag["subject"] == {"reference": "#patient"}
            assert flag["contained"][0]["resourceType"] == "Patient"
            detail, priority, evidence = flag["extension"]
            assert detail == {"url": mapping.FLAG_DETAIL, "valueReference": {
                "reference": f"QuestionnaireResponse/{case.reference}"}}
            assert priority["valueCodeableConcept"]["coding"][1]["code"] == rule.tier
            # The evidence: the answers that made the rule fire, as stored with the flag.
            assert evidence["url"].endswith("/StructureDefinition/screening-evidence")
            assert [part["extension"][0]["valueString"] for part in evidence["extension"]
                    if part["url"] == "answer"] == list(rule.evidence)
        # Most urgent first, then by code: cancer with numbness and chest pain are emergencies.
        assert [f["code"]["coding"][0]["code"] for f in flags[:2]] == [
            "cancer_neuro", "cardiac_chest_pain"]

    def test_a_routine_intake_has_no_flags(self, clinician):
        body = fhir_json(api(clinician).get("/api/fhir/Flag", {"subject": make().reference}))
        assert body["total"] == 0

    def test_the_urgency_is_a_risk_assessment_based_on_the_response(self, clinician):
        case = make(BUSY)
        body = fhir_json(api(clinician).get("/api/fhir/RiskAssessment",
                                            {"subject": case.reference}))
        [entry] = body["entry"]
        risk = entry["resource"]
        assert risk["status"] == "final"
        assert risk["basis"] == [{"reference": f"QuestionnaireResponse/{case.reference}"}]
        prediction = risk["prediction"][0]
        assert prediction["qualitativeRisk"]["coding"][0]["code"] == "emergency"
        assert "cardiac_chest_pain" in prediction["rationale"]
        assert risk["occurrenceDateTime"] == mapping.instant(case.submitted_at)
        assert "mitigation" not in risk

    def test_a_failed_screening_is_a_preliminary_assessment(self, clinician, monkeypatch):
        from screening import services

        def broken(*args, **kwargs):
            raise RuntimeError("rule engine down")

        monkeypatch.setattr(services, "screen_answers", broken)
        case = make()
        assert case.screening_failed
        body = fhir_json(api(clinician).get("/api/fhir/RiskAssessment",
                                            {"subject": case.reference}))
        risk = body["entry"][0]["resource"]
        assert risk["status"] == "preliminary"
        assert risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "urgent"
        assert "Screening could not run" in risk["note"][0]["text"]

    @pytest.mark.parametrize("path", ["/api/fhir/Flag", "/api/fhir/RiskAssessment"])
    def test_a_search_needs_its_subject(self, clinician, path):
        make()
        [issue] = issues(api(clinician).get(path))
        assert issue["code"] == "required"
        assert "subject=" in issue["details"]["text"]

    def test_references_are_read_as_a_person_types_them(self, clinician):
        case = make(BUSY)
        typed = case.reference.lower().replace("-", "")
        body = fhir_json(api(clinician).get("/api/fhir/Flag", {"subject": typed}))
        assert body["total"] > 0


class TestWhoMaySeeWhat:
    def test_anonymous_visitors_get_401_and_nothing_is_audited(self):
        case = make(BUSY)
        for path in paths(case.reference):
            response = api().get(path)
            assert issues(response, 401)[0]["code"] == "login"
            assert response["WWW-Authenticate"] == "Token"
        assert not AuditEvent.objects.exists()

    def test_signed_in_non_clinicians_get_403(self, django_user_model, staff_admin):
        case = make(BUSY)
        receptionist = django_user_model.objects.create_user("receptionist",
                                                             password="x-very-long-pw")
        for user in (receptionist, staff_admin):
            for path in paths(case.reference):
                assert issues(api(user).get(path), 403)[0]["code"] == "forbidden"
        assert not AuditEvent.objects.exists()

    def test_clinicians_see_only_their_clinics_cases(self, clinician):
        case = make(BUSY)
        other = Clinic.objects.create(name="Luton", slug="luton")
        Submission.objects.filter(pk=case.pk).update(clinic=other)
        for path in paths(case.reference):
            assert issues(api(clinician).get(path), 404)[0]["code"] == "not-found"
        Clinician.objects.get(user=clinician).clinics.add(other)
        for path in paths(case.reference):
            fhir_json(api(clinician).get(path))

    @pytest.mark.parametrize("reference", ["ZZZZ-ZZZZ-ZZZZ", "nonsense", "1"])
    def test_unknown_references_are_404(self, clinician, reference):
        make()
        for path in paths(reference):
            [issue] = issues(api(clinician).get(path), 404)
            assert issue["details"]["text"] == "No case with that reference."

    def test_admins_see_cases_too(self, admin_user):
        case = make(BUSY)
        for path in paths(case.reference):
            fhir_json(api(admin_user).get(path))

    def test_every_look_is_audited(self, clinician):
        case = make(BUSY)
        client = api(clinician)
        for path in paths(case.reference):
            fhir_json(client.get(path))
        assert list(AuditEvent.objects.order_by("pk").values_list(
            "action", "actor__username", "reference")) == \
            [("view_case", "clinician", case.reference)] * 3

    def test_api_tokens_and_sessions_both_sign_in(self, clinician, clinician_client):
        case = make()
        token, _ = issue_token(clinician)
        with_token = api(HTTP_AUTHORIZATION=f"Token {token}")
        for path in paths(case.reference):
            fhir_json(with_token.get(path))
            response = clinician_client.get(path)
            assert response.status_code == 200
            assert response["Content-Type"] == FHIR_JSON
        wrong = api(HTTP_AUTHORIZATION="Token not-a-token")
        assert issues(wrong.get(paths(case.reference)[0]), 401)
