"""The review queue and the case: order, filters, who may see what, actions and their audit
records, and query counts that do not grow with the queue."""

import datetime
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent, Clinic, Clinician
from clinic.review import cases
from clinic.review.serializers import QueueItem
from core.tokens import issue_token
from intake.models import Submission
from intake.services.submissions import submit_intake
from tests.factories import PATIENT, ROUTINE, answer_to, api, make_case

pytestmark = pytest.mark.django_db


def refs(response):
    return [row["reference"] for row in response.json()["results"]]


class TestOrder:
    def test_most_urgent_first_then_oldest_first(self, clinician):
        old_routine = make_case("routine", minutes_ago=50)
        new_emergency = make_case("emergency", minutes_ago=1)
        old_emergency = make_case("emergency", minutes_ago=30)
        urgent = make_case("urgent", minutes_ago=40)
        soon = make_case("soon", minutes_ago=60)
        assert refs(api(clinician).get("/api/queue/")) == [
            old_emergency.reference, new_emergency.reference, urgent.reference,
            soon.reference, old_routine.reference]

    def test_reviewed_cases_leave_the_open_queue(self, clinician):
        case = make_case("urgent")
        client = api(clinician)
        response = client.post(f"/api/submissions/{case.reference}/review/",
                               {"note": "Called; booked an ECG."}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "reviewed"
        assert refs(client.get("/api/queue/")) == []
        assert refs(client.get("/api/queue/?status=reviewed")) == [case.reference]

    def test_cursor_pagination_walks_the_whole_queue_in_order(self, clinician):
        made = [make_case(u, minutes_ago=m) for m, u in enumerate(
            ["routine", "emergency", "soon", "urgent", "emergency", "routine", "soon"])]
        expected = [s.reference for s in sorted(
            made, key=lambda s: (Submission.objects.get(pk=s.pk).priority,
                                 Submission.objects.get(pk=s.pk).submitted_at))]
        client, seen, url = api(clinician), [], "/api/queue/?page_size=2"
        while url:
            body = client.get(url).json()
            seen += [row["reference"] for row in body["results"]]
            url = body["next"]
        assert seen == expected

    def test_the_rows_are_the_documented_serializers_rows(self, clinician):
        """The API writes its rows by hand (``queue_items``) for speed; they are exactly what
        the documented ``QueueItem`` serializer makes, for every kind of row."""
        acknowledged, claimed = make_case("emergency"), make_case("urgent", minutes_ago=5)
        make_case("soon", minutes_ago=10)
        make_case("routine", minutes_ago=15)
        client = api(clinician)
        client.post(f"/api/submissions/{acknowledged.reference}/acknowledge/")
        client.post(f"/api/submissions/{claimed.reference}/claim/")
        Submission.objects.filter(pk=claimed.pk).update(date_of_birth=None)  # no age

        rows = client.get("/api/queue/").json()["results"]

        documented = QueueItem(cases.queue(clinician), many=True).data
        # As text, so that the order of every object's keys counts too.
        assert json.dumps(rows) == json.dumps(json.loads(json.dumps(documented,
                                                                    cls=DjangoJSONEncoder)))
        kinds = {(row["urgency"], row["alert"] is not None, row["claimed_by"] is not None,
                  row["age"] is None) for row in rows}
        assert kinds == {("emergency", True, False, False), ("urgent", True, True, True),
                         ("soon", False, False, False), ("routine", False, False, False)}
        assert rows[0]["alert"]["acknowledged_by"] == clinician.username

    def test_a_forged_cursor_is_a_400(self, clinician):
        response = api(clinician).get("/api/queue/?cursor=not-a-cursor")
        assert response.status_code == 400
        assert "cursor" in response.json()


class TestFilters:
    def test_by_urgency_status_date_and_search(self, clinician):
        ada = make_case("emergency", name="Ada Lovelace", minutes_ago=5)
        make_case("routine", name="Grace Hopper", minutes_ago=3 * 24 * 60)
        client = api(clinician)
        assert refs(client.get("/api/queue/?urgency=emergency")) == [ada.reference]
        refused = client.get("/api/queue/?search=hopper")
        assert refused.status_code == 400, "a patient's name must not go in a URL"
        assert "reference" in refused.json()["search"][0]
        lowercase = ada.reference.lower().replace("-", "")
        assert refs(client.get(f"/api/queue/?search={lowercase}")) == [ada.reference]
        since = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
        assert refs(client.get(f"/api/queue/?since={since}")) == [ada.reference]

    @pytest.mark.parametrize("query", ["urgency=high", "status=closed", "since=yesterday",
                                       "page_size=0", "page_size=10000", "search=Ada"])
    def test_bad_filters_are_named(self, clinician, query):
        response = api(clinician).get(f"/api/queue/?{query}")
        assert response.status_code == 400
        assert query.split("=")[0] in response.json()

    def test_the_page_keeps_filters_out_of_the_url(self, clinician_client):
        make_case("emergency", name="Ada Lovelace")
        make_case("routine", name="Grace Hopper")
        response = clinician_client.post("/queue/", {"search": "Lovelace", "status": "open"})
        assert response.status_code == 302 and response["Location"] == "/queue/"
        page = clinician_client.get("/queue/").content.decode()
        assert "Ada Lovelace" in page and "Grace Hopper" not in page
        rows = clinician_client.get("/queue/rows/").content.decode()
        assert "Ada Lovelace" in rows and "Grace Hopper" not in rows


class TestWhoMaySeeWhat:
    def test_anonymous_visitors_get_401_and_a_login_redirect(self, client):
        case = make_case("emergency")
        for url in ("/api/queue/", f"/api/submissions/{case.reference}/"):
            assert api().get(url).status_code == 401
        assert api().post(f"/api/submissions/{case.reference}/acknowledge/").status_code == 401
        for url in ("/queue/", f"/cases/{case.reference}/", "/queue/rows/"):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/")
        assert not AuditEvent.objects.exists()

    def test_a_patients_reference_alone_opens_nothing(self, client):
        """The reference a patient holds is not a key to their case."""
        case = make_case("urgent")
        assert api().get(f"/api/submissions/{case.reference}/").status_code == 401
        assert client.get(f"/cases/{case.reference}/").status_code == 302

    def test_signed_in_non_clinicians_get_403(self, django_user_model, client):
        case = make_case("urgent")
        user = django_user_model.objects.create_user("receptionist", password="x-very-long-pw")
        assert api(user).get(f"/api/submissions/{case.reference}/").status_code == 403
        assert api(user).get("/api/queue/").status_code == 403
        client.force_login(user)
        assert client.get("/queue/").status_code == 403

    def test_clinicians_see_only_their_clinics_cases(self, clinician):
        other = Clinic.objects.create(name="Luton", slug="luton")
        case = make_case("urgent")
        Submission.objects.filter(pk=case.pk).update(clinic=other)
        assert refs(api(clinician).get("/api/queue/")) == []
        assert api(clinician).get(f"/api/submissions/{case.reference}/").status_code == 404
        Clinician.objects.get(user=clinician).clinics.add(other)
        assert refs(api(clinician).get("/api/queue/")) == [case.reference]

    def test_unknown_and_malformed_references_are_indistinguishable_404s(self, clinician):
        make_case("urgent")
        client = api(clinician)
        for reference in ("ZZZZ-ZZZZ-ZZZZ", "nonsense", "1", "%00"):
            response = client.get(f"/api/submissions/{reference}/")
            assert response.status_code == 404
            assert response.json() == {"detail": "No case with that reference."}

    def test_admins_see_cases_too(self, admin_user):
        case = make_case("emergency")
        assert api(admin_user).get(f"/api/submissions/{case.reference}/").status_code == 200

    def test_admins_see_every_clinics_queue(self, admin_user):
        here, there = make_case("urgent"), make_case("emergency")
        Submission.objects.filter(pk=there.pk).update(
            clinic=Clinic.objects.create(name="Luton", slug="luton"))
        assert refs(api(admin_user).get("/api/queue/")) == [there.reference, here.reference]

    def test_a_clinician_of_no_clinic_sees_an_empty_queue(self, clinician, client):
        case = make_case("urgent")
        Clinician.objects.get(user=clinician).clinics.clear()
        assert refs(api(clinician).get("/api/queue/")) == []
        client.force_login(clinician)
        page = client.get("/queue/rows/")
        assert page.status_code == 200
        assert case.reference not in page.content.decode()


class TestCaseAndAudit:
    def test_the_case_shows_answers_as_shown_flags_and_evidence(self, clinician):
        case = make_case("emergency")
        body = api(clinician).get(f"/api/submissions/{case.reference}/").json()
        assert body["patient"]["full_name"] == "Ada Example"
        chest = next(a for a in body["answers"] if a["code"] == "chest_pain")
        assert chest["question_text"] == answer_to(case, "chest_pain").question_text
        assert chest["value"] is True
        flag = body["flags"][0]
        assert flag["code"] == "cardiac_chest_pain"
        # Only what made it fire: the chest-pain answer, not "No, it does not spread".
        assert flag["evidence"] == {"chest_pain": True}
        assert flag["explanation"]
        assert body["alert"]["urgency"] == "emergency"

    def test_every_view_and_action_is_audited(self, clinician, clinician_client):
        case = make_case("emergency")
        client = api(clinician)
        ref = case.reference
        client.get(f"/api/submissions/{ref}/")
        clinician_client.get(f"/cases/{ref}/")
        client.post(f"/api/submissions/{ref}/acknowledge/")
        client.post(f"/api/submissions/{ref}/acknowledge/")  # already done: not a new event
        clinician_client.post(f"/cases/{ref}/claim/")
        client.post(f"/api/submissions/{ref}/review/", {"note": "ok"}, format="json")
        clinician_client.post(f"/cases/{ref}/reopen/")
        actions = list(AuditEvent.objects.order_by("at", "pk").values_list(
            "action", "actor__username", "reference"))
        assert actions == [
            ("view_case", "clinician", ref), ("view_case", "clinician", ref),
            ("acknowledge", "clinician", ref), ("claim", "clinician", ref),
            ("review", "clinician", ref), ("reopen", "clinician", ref)]
        case.refresh_from_db()
        assert case.status == "open" and case.claimed_by == clinician
        assert case.alert.acknowledged_by == clinician

    def test_the_case_page_highlights_the_answers_that_fired(self, clinician_client):
        case = make_case("emergency")
        page = clinician_client.get(f"/cases/{case.reference}/").content.decode()
        assert 'id="answer-chest_pain" class="evidence"' in page
        assert 'id="answer-jaundice" class="evidence"' not in page
        assert 'id="answer-pain_radiates_to" class="evidence"' not in page
        assert "cardiac_chest_pain" in page

    def test_audit_events_cannot_be_changed_or_deleted(self, clinician):
        case = make_case("urgent")
        api(clinician).get(f"/api/submissions/{case.reference}/")
        event = AuditEvent.objects.get()
        event.detail = "edited"
        with pytest.raises(Exception, match="cannot be changed"):
            event.save()
        with pytest.raises(Exception, match="cannot be deleted"):
            event.delete()

    def test_unknown_case_actions_are_404(self, clinician_client):
        case = make_case("urgent")
        assert clinician_client.post(f"/cases/{case.reference}/delete/").status_code == 404
        assert clinician_client.get(f"/cases/{case.reference}/review/").status_code == 405


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/api/queue/", "/queue/", "/queue/rows/"])
def test_queue_queries_do_not_grow_with_the_queue(clinician, clinician_client, url):
    client = api(clinician) if url.startswith("/api/") else clinician_client
    for urgency in ("emergency", "urgent", "soon", "routine", "emergency"):
        make_case(urgency)
    small = _queries(client, url)
    _bulk_copy(Submission.objects.order_by("pk").all()[:5], 500)
    large = _queries(client, url)
    assert large == small, f"{small} queries with 5 submissions, {large} with 505"


def test_case_queries_do_not_grow_with_answers_flags_or_attempts(clinician):
    from clinic.alerting import delivery
    from clinic.models import DutyContact, DutyShift

    clinic = Clinic.objects.get(is_default=True)
    for n in range(3):
        contact = Clinician.objects.create(name=f"Contact {n}", email=f"c{n}@example.org")
        DutyContact.objects.create(clinic=clinic, clinician=contact, role="out_of_hours")
        DutyContact.objects.create(clinic=clinic, clinician=contact, role="backup")
        DutyShift.objects.create(clinic=clinic, clinician=contact,
                                 weekday=timezone.localdate().weekday(),
                                 starts=datetime.time(0), ends=datetime.time(23, 59))
    quiet = make_case("urgent")
    delivery.deliver(quiet.alert.notifications.first().pk)
    # The busy case has more answers and flags, and more notifications and attempts.
    busy = submit_intake(patient=PATIENT, answers={
        **ROUTINE, "chest_pain": True, "jaundice": True, "night_sweats": True,
        "cancer_details": "2010", "history_of_cancer": True}).submission
    for notification in busy.alert.notifications.all():
        delivery.deliver(notification.pk)
    assert busy.alert.notifications.filter(attempts__isnull=False).exists()
    client = api(clinician)
    assert _queries(client, f"/api/submissions/{quiet.reference}/") == _queries(
        client, f"/api/submissions/{busy.reference}/")


def _bulk_copy(templates, count):
    """Copy submissions with their answers and flags, quickly, to make a long queue."""
    from intake.references import new_reference
    from screening.models import Flag

    for i in range(count):
        source = templates[i % len(templates)]
        copy = Submission.objects.create(
            reference=new_reference(), clinic=source.clinic,
            questionnaire_version=source.questionnaire_version, full_name=source.full_name,
            date_of_birth=source.date_of_birth, phone=source.phone, urgency=source.urgency,
            rule_set=source.rule_set, answers=source.answers,
            submitted_at=source.submitted_at - datetime.timedelta(seconds=i))
        Flag.objects.bulk_create(
            Flag(submission=copy, rule_set_id=f.rule_set_id, rule_code=f.rule_code,
                 title=f.title, category=f.category, tier=f.tier, explanation=f.explanation,
                 evidence=f.evidence, derived=f.derived, position=f.position)
            for f in source.flags.all())


def test_the_case_page_shows_choices_as_the_patient_read_them(clinician_client):
    case = make_case("emergency")
    page = clinician_client.get(f"/cases/{case.reference}/").content.decode()
    assert "Between the shoulder blades" in page
    assert "between_shoulder_blades" not in page


@pytest.mark.parametrize("url", ["/queue/", "/queue/rows/"])
def test_a_queue_page_asks_whether_the_user_is_a_clinician_once_and_afresh_each_request(
        clinician, clinician_client, url):
    make_case("urgent")
    with CaptureQueriesContext(connection) as queries:
        assert clinician_client.get(url).status_code == 200
    asked = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith('SELECT 1 AS "a" FROM "auth_group"')]
    assert len(asked) == 1, asked

    clinician.groups.clear()
    assert clinician_client.get(url).status_code == 403


def test_the_queue_api_asks_whether_a_token_holder_is_a_clinician_once_and_afresh_each_request(
        clinician):
    make_case("urgent")
    client = api(HTTP_AUTHORIZATION=f"Token {issue_token(clinician)[0]}")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/queue/").status_code == 200
    # Asked in the query that reads the token, and nowhere else.
    asked = [q["sql"] for q in queries.captured_queries if '"auth_group"' in q["sql"]]
    assert len(asked) == 1, asked
    assert 'FROM "knox_authtoken"' in asked[0]

    clinician.groups.clear()
    assert client.get("/api/queue/").status_code == 401


def test_the_top_of_the_queue_is_read_for_each_user_by_one_compiled_query(clinician):
    """The top of the queue's query is built once and reused for every user of its shape: each
    user still gets the cases of their own clinics, in the order the uncompiled query gives."""
    leeds = Clinic.objects.create(name="Leeds", slug="leeds")
    elsewhere = Clinician.objects.create(name="Dr Leeds", email="leeds@example.org",
                                         user=type(clinician).objects.create_user("leeds"))
    elsewhere.user.groups.set(clinician.groups.all())
    elsewhere.clinics.add(leeds)
    for urgency in ("emergency", "urgent", "soon", "routine", "soon", "routine"):
        make_case(urgency)
        Submission.objects.filter(pk=make_case(urgency).pk).update(clinic=leeds)
    cases._TOP_OF_QUEUE.clear()
    for filters in (cases.QueueFilters(), cases.QueueFilters(urgency="soon"),
                    cases.QueueFilters(status="")):
        for user in (clinician, elsewhere.user, clinician):
            compiled = [row[1:3] for row in cases._in_queue_order(user, filters, 4)]
            built = cases._in_parts(cases._filtered(user, filters), 4)
            expected = sorted(built, key=lambda row: (row[2], row[3] is None, row[3] or row[4],
                                                      row[4], row[0]))[:4]
            assert compiled == [(row[0], row[1]) for row in expected]
            clinic = Clinic.objects.get(is_default=True) if user == clinician else leeds
            assert {case.clinic for case in Submission.objects.filter(
                pk__in=[pk for pk, _ in compiled])} == {clinic}
    assert len(cases._TOP_OF_QUEUE) == 3
