"""The queue at length (issue 19): the page shows the first 50 cases and a plain link to 50 more
(which queue.js fetches and appends), and the polled rows answer 304 Not Modified while nothing
a clinician sees has changed, 200 with a new ETag once something has; what each clinician sees
is scoped and audited as before."""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import AuditEvent, Clinic
from clinic.review import cases
from intake.models import Appointment, Submission
from tests.factories import copies, make_case

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr id="case-([^"]+)"')
MORE = re.compile(r'<a id="queue-more" href="([^"]*)"( hidden)?')


def in_queue_order(user) -> list[str]:
    return list(cases.queue(user).values_list("reference", flat=True))


@pytest.fixture
def long_queue(clinician) -> list[str]:
    """121 open cases: an emergency, an urgent case, a soon one and 118 routine ones."""
    for urgency in ("emergency", "urgent", "soon"):
        make_case(urgency)
    copies(make_case("routine", minutes_ago=60), 117)
    order = in_queue_order(clinician)
    assert len(order) == 121
    return order


@pytest.fixture
def one_minute(monkeypatch):
    """The clock moved to the start of the next minute and running on from there, so a test
    has a minute in which the queue's ETag changes only when the cases do; stamps made by this
    clock come after any the real one made."""
    real = timezone.now
    started = real()
    offset = (started.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
              - started)
    monkeypatch.setattr(timezone, "now", lambda: real() + offset)


def test_the_page_shows_the_first_50_cases_and_a_link_to_50_more(clinician_client,
                                                                  long_queue):
    page = clinician_client.get("/queue/").content.decode()
    assert ROW.findall(page) == long_queue[:50]
    # Positions only in the link (no patient data), and the first new case to scroll to.
    link, hidden = MORE.search(page).groups()
    assert link == f"/queue/?shown=100#case-{long_queue[50]}" and not hidden

    more = clinician_client.get("/queue/?shown=100").content.decode()
    assert ROW.findall(more) == long_queue[:100]
    assert MORE.search(more).group(1) == f"/queue/?shown=150#case-{long_queue[100]}"

    everything = clinician_client.get("/queue/?shown=150").content.decode()
    assert ROW.findall(everything) == long_queue
    assert MORE.search(everything).group(2) == " hidden"


def test_the_next_rows_alone_for_queue_js_to_append(clinician_client, long_queue):
    response = clinician_client.get("/queue/rows/?shown=100&start=50")
    assert ROW.findall(response.content.decode()) == long_queue[50:100]
    assert response["X-Queue-More"] == f"/queue/?shown=150#case-{long_queue[100]}"

    last = clinician_client.get("/queue/rows/?shown=150&start=100")
    assert ROW.findall(last.content.decode()) == long_queue[100:]
    assert last["X-Queue-More"] == ""
    assert "No cases match" not in last.content.decode()

    # The polled rows: all those shown.
    polled = clinician_client.get("/queue/rows/?shown=100")
    assert ROW.findall(polled.content.decode()) == long_queue[:100]


@pytest.mark.parametrize(("query", "first", "count"), [
    ("shown=abc&start=-1", 0, 50),  # not numbers: the first page
    ("shown=10", 0, 50),  # never fewer than a page
    ("shown=100&start=100", 0, 100),  # a start past what is shown: from the top
])
def test_odd_positions_give_the_first_rows(clinician_client, long_queue, query, first, count):
    rows = ROW.findall(clinician_client.get(f"/queue/rows/?{query}").content.decode())
    assert rows == long_queue[first:first + count]


def test_the_page_says_when_it_shows_the_most_it_may(clinician, clinician_client, monkeypatch):
    from clinic.review import views

    monkeypatch.setattr(views, "QUEUE_MOST", 100)
    copies(make_case("routine"), 120)
    page = clinician_client.get("/queue/?shown=5000").content.decode()
    assert ROW.findall(page) == in_queue_order(clinician)[:100]
    assert MORE.search(page).group(2) == " hidden"
    assert "This list shows the first 100 cases: use the filters to find others." in page


def test_polled_rows_answer_304_until_what_the_clinician_sees_changes(
        clinician, clinician_client, one_minute):
    case = make_case("urgent")
    first = clinician_client.get("/queue/rows/")
    etag = first["ETag"]
    assert first.status_code == 200 and re.fullmatch(r'"[0-9a-f]{32}"', etag)
    # Patient data: neither the browser nor a proxy may keep it; queue.js keeps the ETag.
    assert first["Cache-Control"] == "no-store, private"

    with CaptureQueriesContext(connection) as queries:
        unchanged = clinician_client.get("/queue/rows/", HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == etag
    # The session, the user, their role (asked once, by the page: the service takes the page's
    # answer), and the version from two indexes: no row read.
    assert len(queries) == 4
    assert not any("screening_flag" in q["sql"] or '"answers"' in q["sql"]
                   for q in queries.captured_queries)

    def changed_since(etag: str) -> str:
        response = clinician_client.get("/queue/rows/", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 200
        assert response["ETag"] != etag
        assert clinician_client.get("/queue/rows/", HTTP_IF_NONE_MATCH=response["ETag"]
                                    ).status_code == 304
        return response["ETag"]

    cases.claim_case(clinician, case.reference)
    etag = changed_since(etag)
    assert "Being called by clinician" in clinician_client.get("/queue/rows/").content.decode()
    cases.acknowledge_case(clinician, case.reference)
    etag = changed_since(etag)
    arrived = make_case("emergency")
    etag = changed_since(etag)
    assert clinician_client.get("/queue/rows/")["X-Open-Emergencies"] == arrived.reference
    cases.review_case(clinician, case.reference, note="Called: physio next week.")
    etag = changed_since(etag)
    assert case.reference not in clinician_client.get("/queue/rows/").content.decode()
    # Other filters, other rows: the saved filters are part of it.
    clinician_client.post("/queue/", {"urgency": "emergency", "status": "open"})
    changed_since(etag)


def test_a_case_at_another_clinic_changes_nothing_for_this_clinician(
        clinician, clinician_client, one_minute):
    case = make_case("urgent")
    etag = clinician_client.get("/queue/rows/")["ETag"]
    elsewhere = Clinic.objects.create(name="Luton Physio", slug="luton")
    copies(case, 3, clinic=elsewhere)
    response = clinician_client.get("/queue/rows/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert ROW.findall(clinician_client.get("/queue/rows/").content.decode()) == [
        case.reference]


def test_the_version_changes_with_the_minute_whatever_else(clinician):
    make_case("routine")
    now = timezone.now().replace(second=5)
    assert (cases.queue_version(clinician, now=now)
            == cases.queue_version(clinician, now=now + datetime.timedelta(seconds=50)))
    assert (cases.queue_version(clinician, now=now)
            != cases.queue_version(clinician, now=now + datetime.timedelta(seconds=60)))


def test_listing_the_queue_audits_nothing_opening_a_case_still_does(clinician,
                                                                   clinician_client):
    case = make_case("emergency")
    etag = clinician_client.get("/queue/rows/")["ETag"]
    clinician_client.get("/queue/")
    clinician_client.get("/queue/?shown=100")
    clinician_client.get("/queue/rows/", HTTP_IF_NONE_MATCH=etag)
    assert not AuditEvent.objects.exists()
    clinician_client.get(f"/cases/{case.reference}/")
    assert list(AuditEvent.objects.values_list("action", "reference")) == [
        (AuditEvent.Action.VIEW_CASE, case.reference)]


@pytest.mark.parametrize("url", ["/queue/rows/", "/queue/rows/?shown=100&start=50"])
def test_only_clinicians_get_the_rows_or_their_etag(client, django_user_model, url):
    assert client.get(url, HTTP_IF_NONE_MATCH='"anything"').status_code == 302
    client.force_login(django_user_model.objects.create_user("receptionist"))
    response = client.get(url, HTTP_IF_NONE_MATCH='"anything"')
    assert response.status_code == 403 and "ETag" not in response


@pytest.mark.parametrize("page_size", [1, 2, 50])
def test_the_api_walks_the_queue_in_its_order_appointments_included(clinician, page_size):
    made = [make_case(urgency, minutes_ago=minutes) for minutes, urgency in enumerate(
        ["routine", "soon", "emergency", "soon", "soon", "urgent", "soon", "routine"])]
    soon = [case for case in made if case.urgency == "soon"]
    day = timezone.now().replace(microsecond=0)
    # Two on the same day and time: then the one that arrived first.
    for case, days in zip(soon[:3], (3, 1, 3), strict=True):
        appointment = Appointment.objects.create(
            clinic=case.clinic, starts_at=day + datetime.timedelta(days=days), full_name="A")
        Submission.objects.filter(pk=case.pk).update(appointment=appointment)
    expected = in_queue_order(clinician)
    assert expected[2] == soon[1].reference  # after the emergency and the urgent case

    client = APIClient()
    client.force_authenticate(clinician)
    seen, url = [], f"/api/queue/?page_size={page_size}"
    while url:
        body = client.get(url).json()
        seen += [row["reference"] for row in body["results"]]
        url = body["next"]
    assert seen == expected
    # The page reads the same order.
    page = Client()
    page.force_login(clinician)
    assert ROW.findall(page.get("/queue/rows/").content.decode()) == expected
