"""``manage.py seed_demo``: what a demonstration of the clinic needs, on top of ``migrate``.

``migrate`` already leaves a working clinic (the published questionnaire, the default clinic and
its hours, the Clinicians group).  This adds people to log in as: an admin (a superuser) and a
clinician (in the Clinicians group, not staff), with ``example.org`` addresses and fixed
passwords that are printed, so anyone can follow the README.

Because the passwords are public, the command refuses to run unless ``DEBUG`` is on: a
production install (``DJANGO_DEBUG=false``) never gets a login anyone can guess.

Running it again changes nothing that is already as described, and puts back anything that is
not (a changed password, a lost group membership), so the printed logins always work.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clinic.models import Clinic, Clinician, DutyContact, DutyShift
from core.roles import CLINICIANS_GROUP


# The passwords are meant to be known (they are printed and in the README); that is why the
# command refuses to run without DEBUG.
@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    email: str
    role: str


ADMIN_LOGIN = DemoLogin(
    username="admin",
    password="demo-admin-password",  # noqa: S106
    email="admin@example.org",
    role="admin (superuser): /admin/",
)
CLINICIAN_LOGIN = DemoLogin(
    username="clinician",
    password="demo-clinician-password",  # noqa: S106
    email="clinician@example.org",
    role="clinician (Clinicians group, not staff)",
)


class Command(BaseCommand):
    help = (
        "Add demo logins (an admin and a clinician, example.org addresses, printed passwords). "
        "Idempotent. Refuses to run when DEBUG is off."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates logins with published passwords, so it only runs with "
                "DJANGO_DEBUG=true (a development install). On a real install create logins "
                "with `manage.py createsuperuser` and add clinicians to the "
                f"“{CLINICIANS_GROUP}” group in /admin/."
            )
        logins = seed_demo()
        self.stdout.write("Demo logins (development only: these passwords are public):")
        for login in logins:
            self.stdout.write(
                f"  username {login.username:<10} password {login.password:<24} {login.role}"
            )


OUT_OF_HOURS_EMAIL = "out-of-hours@example.org"


@transaction.atomic
def seed_demo() -> list[DemoLogin]:
    """Bring the database to the demo state and return the logins to print.

    Each step is idempotent.  With the clinician on the duty rota in clinic hours and an
    out-of-hours contact, an urgent submission at any hour alerts someone.
    """
    ensure_demo_admin(ADMIN_LOGIN)
    user = ensure_demo_clinician(CLINICIAN_LOGIN)
    clinic = Clinic.objects.get(is_default=True)
    ensure_on_rota(clinic, user)
    ensure_out_of_hours_contact(clinic)
    return [ADMIN_LOGIN, CLINICIAN_LOGIN]


def ensure_demo_admin(login: DemoLogin):
    return _ensure_user(login, is_staff=True, is_superuser=True)


def ensure_demo_clinician(login: DemoLogin):
    """A clinician is not staff: clinicians work in the queue, not in the admin."""
    clinician = _ensure_user(login, is_staff=False, is_superuser=False)
    group, _ = Group.objects.get_or_create(name=CLINICIANS_GROUP)
    clinician.groups.add(group)
    return clinician


def ensure_on_rota(clinic: Clinic, user) -> Clinician:
    """The demo clinician is on duty whenever the clinic is open (shifts without times follow
    the opening hours)."""
    clinician, _ = Clinician.objects.update_or_create(
        user=user, defaults={"name": "Demo Clinician", "email": user.email, "is_active": True})
    clinician.clinics.add(clinic)
    for weekday in sorted({hours.weekday for hours in clinic.opening_hours.all()}):
        DutyShift.objects.get_or_create(clinic=clinic, clinician=clinician, weekday=weekday,
                                        starts=None, ends=None)
    return clinician


def ensure_out_of_hours_contact(clinic: Clinic) -> Clinician:
    contact, _ = Clinician.objects.update_or_create(
        email=OUT_OF_HOURS_EMAIL, user=None,
        defaults={"name": "Out-of-hours duty doctor", "is_active": True})
    DutyContact.objects.get_or_create(clinic=clinic, clinician=contact,
                                      role=DutyContact.Role.OUT_OF_HOURS)
    return contact


def _ensure_user(login: DemoLogin, *, is_staff: bool, is_superuser: bool):
    user, _ = get_user_model().objects.get_or_create(username=login.username)
    user.email = login.email
    user.is_active = True
    user.is_staff = is_staff
    user.is_superuser = is_superuser
    # Re-hashing an unchanged password would log the demo user out of every open session.
    if not user.check_password(login.password):
        user.set_password(login.password)
    user.save()
    return user
