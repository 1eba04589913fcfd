"""The channels an alert travels on: each one small class behind one interface.

A transport sends one message to one address and either returns or raises ``DeliveryError``,
which says whether the failure is worth retrying.  A message is an ``AlertMessage`` (one alert)
or a ``DigestMessage`` (the urgent alerts held during a burst), or a ``TestPageMessage``
(an admin checking a channel: never an alert); all carry only urgencies, case
references, counts and links, nothing about the patient, and a ``key`` that is the same each
time the same message is sent again, for receivers to de-duplicate by.
"""

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from screening.urgency import Urgency

SEND_TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class AlertMessage:
    notification_id: int
    reference: str
    urgency: str
    link: str
    level: int

    @property
    def key(self) -> str:
        return f"alert-notification-{self.notification_id}"

    @property
    def subject(self) -> str:
        escalated = " (escalated: not yet acknowledged)" if self.level else ""
        return f"[{self.urgency.upper()}] Intake {self.reference} needs a clinician{escalated}"

    @property
    def body(self) -> str:
        action = ("Emergency advice was given: the patient was told to call the emergency "
                  "number now." if self.urgency == Urgency.EMERGENCY
                  else "The patient was told a clinician will call them today.")
        return (
            f"An intake screened as {self.urgency.upper()} needs a clinician.\n\n"
            f"Reference: {self.reference}\n{action}\n\n"
            f"Open the case and acknowledge this alert (log in required):\n{self.link}\n\n"
            "Until someone acknowledges it, this alert will be escalated.\n"
        )

    def as_json(self) -> dict:
        return {"reference": self.reference, "urgency": self.urgency, "link": self.link,
                "escalation_level": self.level, "text": self.subject}


@dataclass(frozen=True)
class DigestMessage:
    """The urgent cases held for one clinician during a burst, in one page: how many, their
    references and links, and the queue.  ``minutes`` is the period they arrived in: the
    burst's window, or longer when retries delayed the digest."""

    key: str
    cases: tuple[tuple[str, str], ...]  # (reference, link), oldest first
    minutes: int
    queue_link: str
    urgency: str = Urgency.URGENT

    @property
    def headline(self) -> str:
        count = len(self.cases)
        cases = "case" if count == 1 else "cases"
        period = "minute" if self.minutes == 1 else f"{self.minutes} minutes"
        return f"{count} more {self.urgency} {cases} in the last {period}"

    @property
    def subject(self) -> str:
        return f"[{self.urgency.upper()}] {self.headline}"

    @property
    def body(self) -> str:
        references = ", ".join(reference for reference, _ in self.cases)
        each = "\n".join(f"{reference}: {link}" for reference, link in self.cases)
        return (
            f"{self.headline}: {references}.\n\n"
            "Held so that a burst of urgent cases pages you once, not once each. Each patient "
            "was told a clinician will call them today.\n\n"
            f"Open the queue (log in required):\n{self.queue_link}\n\n"
            f"Or each case, to acknowledge it:\n{each}\n\n"
            "Each case is escalated on its own until someone acknowledges it.\n"
        )

    def as_json(self) -> dict:
        return {"digest": True, "urgency": self.urgency, "count": len(self.cases),
                "minutes": self.minutes,
                "cases": [{"reference": reference, "link": link}
                          for reference, link in self.cases],
                "link": self.queue_link, "escalation_level": 0, "text": self.subject}


@dataclass(frozen=True)
class TestPageMessage:
    """A test page from the admin, to prove a channel reaches the clinician: never an alert,
    and it says so in its first words."""

    __test__ = False  # not a test class, whatever pytest makes of its name

    key: str
    clinic_names: str
    sent_by: str

    @property
    def subject(self) -> str:
        return "[TEST] Test page: not an alert, no action needed"

    @property
    def body(self) -> str:
        return (
            "TEST PAGE: this is not an alert and no patient is waiting. No action is needed.\n\n"
            f"{self.sent_by} sent it from the admin to check that alerts from "
            f"{self.clinic_names} reach you on this channel. Real alerts arrive the same way, "
            "with URGENT or EMERGENCY in their first words.\n"
        )

    @property
    def short_text(self) -> str:
        """For channels that carry a short text only (a text message)."""
        return f"TEST PAGE, not an alert: no action needed. Sent by {self.sent_by}."[:160]

    def as_json(self) -> dict:
        return {"test": True, "urgency": "test", "text": self.subject, "link": "",
                "escalation_level": 0, "short_text": self.short_text}


Message = AlertMessage | DigestMessage | TestPageMessage


class EmailTransport:
    name = "email"

    def send(self, address: str, message: Message) -> None:
        email = EmailMessage(
            subject=message.subject, body=message.body, to=[address],
            from_email=settings.DEFAULT_FROM_EMAIL,
            # One Message-ID per message: if a crash makes us send it again, mail systems that
            # de-duplicate by Message-ID show it once.
            headers={"Message-ID": f"<{message.key}@{settings.ALERT_MESSAGE_ID_DOMAIN}>"},
        )
        try:
            get_connection(timeout=SEND_TIMEOUT_SECONDS).send_messages([email])
        except smtplib.SMTPRecipientsRefused as error:
            # The server will not take this address: retrying will not change its mind.
            raise DeliveryError(f"recipient refused: {_codes(error)}", permanent=True) from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(f"SMTP {error.smtp_code}",
                                permanent=500 <= error.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP unavailable: {type(error).__name__}",
                                permanent=False) from None


SIGNATURE_HEADER = "X-Clinic-Signature"


def webhook_signature(body: bytes, *, timestamp: int, secret: str) -> str:
    """The ``X-Clinic-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>`` of
    ``"<t>.<body>"`` under the webhook secret.  A receiver recomputes it, compares in constant
    time, and refuses a timestamp more than five minutes old (a replay)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookTransport:
    name = "webhook"

    def send(self, address: str, message: Message) -> None:
        if settings.WEBHOOK_REQUIRE_HTTPS and not address.lower().startswith("https://"):
            # Plain http would carry the alert (and the signature's replay window) in clear.
            raise DeliveryError("webhook URL is not https", permanent=True)
        body = json.dumps(message.as_json()).encode()
        request = urllib.request.Request(  # noqa: S310 - admins set http(s) URLs (URLField)
            address,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json",
                     "Idempotency-Key": message.key,
                     SIGNATURE_HEADER: webhook_signature(body, timestamp=int(time.time()),
                                                         secret=settings.WEBHOOK_SECRET),
                     "User-Agent": "clinic-alerts/1"},
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read(1024)
        except urllib.error.HTTPError as error:
            # 4xx means the request itself is wrong (bad URL, auth): retrying will not help,
            # except for the ones that mean "later".
            permanent = 400 <= error.code < 500 and error.code not in (408, 425, 429)
            raise DeliveryError(f"HTTP {error.code}", permanent=permanent) from None
        except (TimeoutError, urllib.error.URLError, OSError) as error:
            raise DeliveryError(f"webhook unreachable: {type(error).__name__}",
                                permanent=False) from None


TRANSPORTS = {transport.name: transport for transport in (EmailTransport(), WebhookTransport())}


def _codes(error: smtplib.SMTPRecipientsRefused) -> str:
    return ", ".join(str(code) for code, _ in error.recipients.values())
