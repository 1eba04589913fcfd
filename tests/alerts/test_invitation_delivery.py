"""An appointment's invitation reaches the patient through a real worker and a real mail
server, once, with a link that works (issue 16): the booking system's POST commits, the task
(holding only the invitation's id) is queued to Redis, the worker emails the patient, and the
link in the email opens the form after the date of birth.

Real parts: PostgreSQL, a redis-server of the test's own, a Celery worker process, aiosmtpd.
"""

import datetime
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import Clinic
from intake.models import Invitation
from intake.services.invitations import send_due
from support.real_services import wait_until
from tests.factories import COMMITTED, SITE_URL

pytestmark = [pytest.mark.postgres, COMMITTED]


@pytest.fixture
def booking_system() -> APIClient:
    user = User.objects.create_user("booking", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__endswith="_appointment"))
    Clinic.objects.get(is_default=True).staff.add(user)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_invitation_email_holds_a_link_that_opens_the_form(
        booking_system, broker, redis_server, smtp, settings, celery_processes):
    settings.SITE_URL = SITE_URL
    starts = (timezone.now() + datetime.timedelta(days=3)).replace(microsecond=0)
    response = booking_system.post("/api/appointments/", {
        "clinic": "bedford", "starts_at": starts.isoformat(), "external_id": "BK-77",
        "patient": {"full_name": "Ada Example", "date_of_birth": "1971-03-02",
                    "email": "ada@example.org"}}, format="json")
    assert response.status_code == 201, response.json()
    invitation = Invitation.objects.get()

    # Queued after the commit with the invitation's id and nothing else.
    [queued] = redis_server.queued_task_messages("celery")
    assert queued["headers"]["task"] == "intake.send_invitation"
    assert queued["decoded_body"][0] == [invitation.pk]
    assert "Ada" not in queued["raw"] and "1971" not in queued["raw"]

    celery_processes.worker()
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    assert mail.recipients == ("ada@example.org",)
    assert "Ada" not in mail.text and "1971" not in mail.text
    link = re.search(rf"{re.escape(SITE_URL)}(/i/[A-Za-z0-9_-]+/)", mail.text).group(1)
    assert link == f"/i/{response.json()['invitation_token']}/"
    wait_until(lambda: Invitation.objects.get().sent_at is not None, what="sent_at recorded",
               detail=celery_processes.logs)

    patient = Client()
    assert patient.get(link).status_code == 200
    opened = patient.post(link, {"dob_day": "2", "dob_month": "3", "dob_year": "1971"})
    assert opened.status_code == 302
    assert 'value="Ada Example"' in patient.get(opened["Location"]).content.decode()
    # Sent once: a sweep finds nothing more to send.
    assert send_due().invitations == 0
    assert len(smtp.messages) == 1
