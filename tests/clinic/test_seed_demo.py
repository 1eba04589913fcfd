"""``manage.py seed_demo``, the Clinicians group and ``core.roles.is_clinician``."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest

from core.roles import CLINICIANS_GROUP, is_clinician

pytestmark = pytest.mark.django_db

DEMO_LOGINS = [("admin", "demo-admin-password"), ("clinician", "demo-clinician-password")]


@pytest.fixture
def debug_on(settings):
    # pytest-django runs tests with DEBUG off, as production does; a laptop runs with it on.
    settings.DEBUG = True


def seed_demo() -> str:
    output = StringIO()
    call_command("seed_demo", stdout=output)
    return output.getvalue()


def test_migrate_creates_the_clinicians_group():
    assert Group.objects.filter(name=CLINICIANS_GROUP).exists()


def test_seed_demo_prints_logins_that_work(debug_on, client):
    output = seed_demo()

    for username, password in DEMO_LOGINS:
        assert username in output
        assert password in output
        assert client.login(request=HttpRequest(), username=username, password=password), username


def test_seed_demo_creates_a_superuser_and_a_clinician_who_is_not_staff(debug_on):
    seed_demo()

    users = get_user_model().objects
    admin, clinician = users.get(username="admin"), users.get(username="clinician")
    assert (admin.is_superuser, admin.is_staff, admin.email) == (True, True, "admin@example.org")
    assert (clinician.is_superuser, clinician.is_staff) == (False, False)
    assert clinician.email == "clinician@example.org"
    assert list(clinician.groups.values_list("name", flat=True)) == [CLINICIANS_GROUP]
    assert is_clinician(clinician)


def test_seed_demo_run_twice_changes_nothing(debug_on):
    seed_demo()
    users = get_user_model().objects
    before = list(users.order_by("pk").values())

    seed_demo()

    assert list(users.order_by("pk").values()) == before
    assert users.get(username="clinician").groups.count() == 1


def test_seed_demo_puts_back_a_changed_password_and_a_lost_group(debug_on, client):
    seed_demo()
    clinician = get_user_model().objects.get(username="clinician")
    clinician.set_password("something-else")
    clinician.save()
    clinician.groups.clear()

    seed_demo()

    assert client.login(request=HttpRequest(), username="clinician",
                        password="demo-clinician-password")
    assert is_clinician(get_user_model().objects.get(username="clinician"))


def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only runs with DJANGO_DEBUG=true"):
        seed_demo()

    assert not get_user_model().objects.exists()


def test_clinicians_and_superusers_are_clinicians(clinician, admin_user):
    assert is_clinician(clinician)
    assert is_clinician(admin_user)


def test_staff_anonymous_and_inactive_users_are_not_clinicians(staff_admin, clinician):
    clinician.is_active = False
    clinician.save()

    assert not is_clinician(staff_admin)
    assert not is_clinician(AnonymousUser())
    assert not is_clinician(clinician)
