"""Invitations: the link an appointment's patient opens to fill in the intake.

The token is 256 bits made from the invitation's ``secret`` under the server's key (an HMAC), so
the database holds neither the token nor enough to make it: a copy of the database opens no
form.  ``token_hash`` (SHA-256) finds the invitation a token belongs to, in constant time for a
unique index.  A booking system that upserts the appointment again gets the same token back.

A link **works** while its appointment is booked and has not started, the intake has not been
sent with it, and it is not locked.  Opening it asks for the patient's date of birth before it
shows anything; ``INVITATION_MAX_DOB_TRIES`` wrong dates lock it (the clinic's admin can unlock
it), counted in the database with a conditional update so that parallel guesses cannot beat
the count.

Sending: an invitation is emailed (and texted, when the service has an SMS provider and the
appointment a phone number) when its appointment is made (queued after commit) and, in
case the broker was down then, by the sweep (``send_due``, Celery beat, every minute), which
also sends the reminders ``INVITATION_REMINDER_HOURS`` before the appointment until the intake
is done.  Each send is claimed first with a conditional update, so two sweeps never send the
same message twice; a send that fails is released for the next sweep.  The messages hold the
clinic, the time and the link: nothing about the patient's health.
"""

import base64
import dataclasses
import datetime
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from clinic.alerting.transports import TRANSPORTS
from clinic.hours import local_time
from core.broker import broker_answers
from intake.models import Appointment, Invitation

logger = logging.getLogger(__name__)

SECRET_BYTES = 32


# --- Tokens -----------------------------------------------------------------------------------


def new_invitation(appointment: Appointment) -> Invitation:
    secret = secrets.token_hex(SECRET_BYTES)
    return Invitation.objects.create(appointment=appointment, secret=secret,
                                     token_hash=_hash(_token(secret)))


def token_of(invitation: Invitation) -> str:
    return _token(invitation.secret)


def link_of(invitation: Invitation) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("intake:invitation",
                                                   args=[token_of(invitation)])


def _token(secret: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"invitation:{secret}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Opening a link ---------------------------------------------------------------------------


class InvitationUnusable(Exception):
    """The link cannot be used; ``reason`` says why in words for the patient."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def find(token: object, *, now: datetime.datetime | None = None) -> Invitation:
    """The invitation this token opens, if it works now; else ``InvitationUnusable``."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise InvitationUnusable("This link is not complete. Open it again from the message "
                                 "we sent you, or contact the clinic.")
    invitation = (Invitation.objects.select_related("appointment__clinic")
                  .filter(token_hash=_hash(token)).first())
    if invitation is None:
        raise InvitationUnusable("This link is not one of ours. Open it again from the message "
                                 "we sent you, or contact the clinic.")
    check_usable(invitation, now=now)
    return invitation


def check_usable(invitation: Invitation, *, now: datetime.datetime | None = None) -> None:
    now = now or timezone.now()
    appointment = invitation.appointment
    if invitation.used_at is not None:
        raise InvitationUnusable("You have already sent your answers with this link. Thank "
                                 "you: the clinic has them.", invitation)
    if appointment.status == Appointment.Status.CANCELLED:
        raise InvitationUnusable("This appointment has been cancelled, so the form is closed. "
                                 "Contact the clinic if this is wrong.", invitation)
    if appointment.starts_at <= now or appointment.status != Appointment.Status.BOOKED:
        raise InvitationUnusable("This link has expired: it worked until the appointment "
                                 "started.", invitation)
    if invitation.locked_at is not None:
        raise InvitationUnusable("This link has been locked after too many wrong dates of "
                                 "birth. Contact the clinic to unlock it.", invitation)


@dataclass(frozen=True)
class DateCheck:
    passed: bool
    tries_left: int


def check_date_of_birth(invitation: Invitation, date_of_birth: datetime.date, *,
                        now: datetime.datetime | None = None) -> DateCheck:
    """Compare the date of birth the patient typed with the appointment's.  A wrong one counts
    towards the lock, atomically; the last allowed wrong one locks the link."""
    now = now or timezone.now()
    if date_of_birth == invitation.appointment.date_of_birth:
        return DateCheck(passed=True, tries_left=settings.INVITATION_MAX_DOB_TRIES)
    limit = settings.INVITATION_MAX_DOB_TRIES
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation.pk, locked_at__isnull=True).update(
            failed_checks=F("failed_checks") + 1)
        Invitation.objects.filter(pk=invitation.pk, locked_at__isnull=True,
                                  failed_checks__gte=limit).update(locked_at=now)
        invitation.refresh_from_db(fields=["failed_checks", "locked_at"])
    if invitation.locked_at is not None:
        logger.warning("invitation %s locked after %s wrong dates of birth", invitation.pk,
                       invitation.failed_checks)
    return DateCheck(passed=False, tries_left=max(0, limit - invitation.failed_checks))


def mark_used(invitation: Invitation, *, now: datetime.datetime) -> bool:
    """Use the link up, in the caller's transaction; False if it already was."""
    return bool(Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True)
                .update(used_at=now))


# --- Sending ----------------------------------------------------------------------------------


def reminder_offsets() -> list[datetime.timedelta]:
    """The reminders' times before the appointment, furthest first."""
    return sorted((datetime.timedelta(hours=h) for h in settings.INVITATION_REMINDER_HOURS),
                  reverse=True)


def open_invitations(now: datetime.datetime):
    return Invitation.objects.filter(
        used_at__isnull=True, locked_at__isnull=True,
        appointment__status=Appointment.Status.BOOKED, appointment__starts_at__gt=now)


@dataclass(frozen=True)
class SendReport:
    invitations: int = 0
    reminders: int = 0
    failed: int = 0


def send_due(*, now: datetime.datetime | None = None, batch: int = 200) -> SendReport:
    """Send the invitations not sent yet, then the reminders that are due (one per invitation
    per sweep: the latest one due, so a patient invited late is not sent a burst)."""
    now = now or timezone.now()
    report = SendReport()
    due = open_invitations(now).select_related("appointment__clinic")
    for invitation in due.filter(sent_at__isnull=True)[:batch]:
        report = _tally(report, send(invitation, now=now), "invitations")
    offsets = reminder_offsets()
    for number, offset in reversed(list(enumerate(offsets, start=1))):
        # Reminder ``number`` is due from ``offset`` before the appointment; an invitation made
        # after that point skips it (its invitation was that reminder).
        reminders = due.filter(sent_at__isnull=False, reminders_sent__lt=number,
                               sent_at__lt=F("appointment__starts_at") - offset,
                               appointment__starts_at__lte=now + offset)
        for invitation in reminders[:batch]:
            report = _tally(report, send(invitation, now=now, reminder=number), "reminders")
    return report


def _tally(report: SendReport, sent: bool | None, what: str) -> SendReport:
    if sent is None:
        return report
    if not sent:
        return dataclasses.replace(report, failed=report.failed + 1)
    return dataclasses.replace(report, **{what: getattr(report, what) + 1})


def send(invitation: Invitation, *, now: datetime.datetime | None = None,
         reminder: int = 0) -> bool | None:
    """Send the invitation (``reminder`` 0) or reminder number ``reminder``.  Returns None when
    another sweep already claimed it (or it is no longer wanted), else whether it was sent."""
    now = now or timezone.now()
    claimed = _claim(invitation, now=now, reminder=reminder)
    if not claimed:
        return None
    appointment = invitation.appointment
    channels = _channels(appointment)
    if not channels:
        # Nothing to send it to: the clinic gives the link some other way (the API returns it).
        return True
    sent = []
    for name, send_on in channels:
        try:
            send_on(invitation, reminder)
        except Exception as error:  # SMTP or the SMS provider down or refusing
            logger.warning("invitation %s not sent by %s (%s)", invitation.pk, name,
                           type(error).__name__)
        else:
            sent.append(name)
    if not sent:
        _release(invitation, reminder=reminder)  # the next sweep tries again
        return False
    logger.info("invitation %s %s sent by %s", invitation.pk,
                f"reminder {reminder}" if reminder else "message", " and ".join(sent))
    return True


def _channels(appointment: Appointment) -> list:
    channels = []
    if appointment.email:
        channels.append(("email", _email))
    if settings.SMS_ENABLED and international_number(appointment.phone):
        channels.append(("sms", _text))
    return channels


def _email(invitation: Invitation, reminder: int) -> None:
    send_mail(_subject(invitation.appointment, reminder), _body(invitation, reminder),
              settings.DEFAULT_FROM_EMAIL, [invitation.appointment.email])


@dataclass(frozen=True)
class InvitationText:
    """An invitation as a text message, for the SMS transport: the clinic, the time and the
    link, nothing about the patient's health."""

    key: str
    short_text: str


def _text(invitation: Invitation, reminder: int) -> None:
    appointment = invitation.appointment
    first = "Reminder: please" if reminder else "Please"
    text = (f"{first} fill in your form before your appointment at "
            f"{appointment.clinic.name} on {_when(appointment)}: {link_of(invitation)}")
    TRANSPORTS["sms"].send(international_number(appointment.phone),
                           InvitationText(key=f"invitation-{invitation.pk}-{reminder}",
                                          short_text=text))


def international_number(phone: str) -> str:
    """The patient's phone number in international form for a text (+ and digits), or "" if
    it cannot be one.  A number without a country code is taken as a UK number (07700 900123
    is +447700900123): the clinics are in the UK."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        number = "+" + digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif digits.startswith("0"):
        number = "+44" + digits[1:]
    else:
        return ""
    return number if 8 <= len(number) <= 16 else ""


def queue(invitation_id: int) -> None:
    """Queue the invitation's email (call it after commit); with the broker down, the minute's
    sweep sends it instead, as it sends every invitation not yet sent."""
    if not broker_answers():
        logger.warning("the broker does not answer; invitation %s left for the sweep",
                       invitation_id)
        return
    try:
        send_invitation.delay(invitation_id)
    except Exception as error:  # the broker went away between the probe and the publish
        logger.warning("could not queue invitation %s (%s); the sweep will send it",
                       invitation_id, type(error).__name__)


# The task lives beside what it runs, so that queueing it needs no import from above.
@shared_task(name="intake.send_invitation", ignore_result=True)
def send_invitation(invitation_id: int) -> None:
    invitation = (Invitation.objects.select_related("appointment__clinic")
                  .filter(pk=invitation_id).first())
    if invitation is not None:
        send(invitation)


def _claim(invitation: Invitation, *, now, reminder: int) -> bool:
    still_open = open_invitations(now).filter(pk=invitation.pk)
    if reminder == 0:
        return bool(still_open.filter(sent_at__isnull=True).update(sent_at=now))
    return bool(still_open.filter(reminders_sent__lt=reminder)
                .update(reminders_sent=reminder, last_reminded_at=now))


def _release(invitation: Invitation, *, reminder: int) -> None:
    if reminder == 0:
        Invitation.objects.filter(pk=invitation.pk).update(sent_at=None)
    else:
        Invitation.objects.filter(pk=invitation.pk, reminders_sent=reminder).update(
            reminders_sent=reminder - 1)


def _when(appointment: Appointment) -> str:
    local = local_time(appointment.clinic, appointment.starts_at)
    return f"{local:%A} {local.day} {local:%B} at {local:%H:%M}"


def _subject(appointment: Appointment, reminder: int) -> str:
    first = "Reminder: please" if reminder else "Please"
    return f"{first} fill in your form before your appointment at {appointment.clinic.name}"


def _body(invitation: Invitation, reminder: int) -> str:
    appointment = invitation.appointment
    clinic = appointment.clinic
    opening = ("We have not had your form yet. " if reminder else "")
    return (
        f"You have an appointment at {clinic.name} on {_when(appointment)}.\n\n"
        f"{opening}Before it, please fill in a short form about your back pain, so that your "
        "physiotherapist is ready for you and anything that needs attention sooner is seen "
        "sooner. It takes about 10 minutes.\n\n"
        f"Open the form (it asks for your date of birth first):\n{link_of(invitation)}\n\n"
        "The link is for you only and works until your appointment starts.\n\n"
        f"If your pain gets much worse, or you have chest pain, call {clinic.emergency_number}."
        + (f" Questions about your appointment: {clinic.phone}." if clinic.phone else "")
        + "\n"
    )
