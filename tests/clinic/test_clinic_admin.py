"""The clinic admin: a clinic's details and opening hours, edited by an admin who is not a
programmer (pytest-django's ``admin_client``, logged in as the superuser ``admin_user``)."""

import datetime

import pytest
from django.urls import reverse

from clinic.models import Clinic, OpeningHours

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    """The default clinic the data migration creates."""
    return Clinic.objects.get(is_default=True)


def new_clinic_data(**changes) -> dict:
    data = {
        "name": "Riverside Physio", "slug": "riverside", "timezone": "Europe/London",
        "phone": "020 7946 0000", "emergency_number": "999", "out_of_hours_number": "111",
        "emergency_escalation_minutes": "5", "urgent_escalation_minutes": "30",
        "soon_review_hours": "48",
        "opening_hours-TOTAL_FORMS": "1", "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-MIN_NUM_FORMS": "0", "opening_hours-MAX_NUM_FORMS": "1000",
        "opening_hours-0-weekday": "0", "opening_hours-0-opens": "09:00",
        "opening_hours-0-closes": "17:30",
        # The rota's inlines, empty.
        "duty_shifts-TOTAL_FORMS": "0", "duty_shifts-INITIAL_FORMS": "0",
        "duty_contacts-TOTAL_FORMS": "0", "duty_contacts-INITIAL_FORMS": "0",
        "covers-TOTAL_FORMS": "0", "covers-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_clinic_pages_render(admin_client, clinic):
    for page in (
        reverse("admin:clinic_clinic_changelist"),
        reverse("admin:clinic_clinic_add"),
        reverse("admin:clinic_clinic_change", args=[clinic.pk]),
    ):
        response = admin_client.get(page)
        assert response.status_code == 200, page
    assert "Opening hours" in response.content.decode()


def test_change_page_uses_friendly_labels(admin_client, clinic):
    html = admin_client.get(reverse("admin:clinic_clinic_change", args=[clinic.pk])).content
    html = html.decode()
    assert "Out-of-hours advice number" in html
    assert "Escalate an emergency alert after (minutes)" in html
    assert '<option value="Europe/London" selected>' in html


def test_a_clinic_is_added_with_its_opening_hours(admin_client):
    response = admin_client.post(reverse("admin:clinic_clinic_add"), new_clinic_data())
    assert response.status_code == 302
    clinic = Clinic.objects.get(slug="riverside")
    assert [(h.weekday, h.opens, h.closes) for h in clinic.opening_hours.all()] == [
        (OpeningHours.Weekday.MONDAY, datetime.time(9), datetime.time(17, 30))
    ]


def test_closing_before_opening_is_refused_with_a_clear_error(admin_client):
    response = admin_client.post(reverse("admin:clinic_clinic_add"), new_clinic_data(**{
        "opening_hours-0-opens": "17:00", "opening_hours-0-closes": "09:00",
    }))
    assert response.status_code == 200
    assert "The closing time must be after the opening time." in response.content.decode()
    assert not Clinic.objects.filter(slug="riverside").exists()


def test_a_second_default_clinic_is_refused_with_a_clear_error(admin_client, clinic):
    response = admin_client.post(reverse("admin:clinic_clinic_add"),
                                 new_clinic_data(is_default="on"))
    assert response.status_code == 200
    assert "Only one clinic can be the default." in response.content.decode()
    assert Clinic.objects.filter(is_default=True).get() == clinic


def test_an_unknown_time_zone_is_refused(admin_client):
    response = admin_client.post(reverse("admin:clinic_clinic_add"),
                                 new_clinic_data(timezone="Europe/Atlantis"))
    assert response.status_code == 200
    assert "Europe/Atlantis is not one of the available choices" in response.content.decode()
