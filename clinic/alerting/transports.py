"""The channels an alert travels on: each one small class behind one interface.

A transport sends one message to one address and either returns (the provider's id for the
message, when it gives one to match delivery receipts by: an SMS's sid) or raises
``DeliveryError``, which says whether the failure is worth retrying.  A message is an
``AlertMessage`` (one alert) or a ``DigestMessage`` (the urgent alerts held during a burst), or
a ``TestPageMessage`` (an admin checking a channel: never an alert); all carry only urgencies,
case references, counts and links, nothing about the patient, and a ``key`` that is the same
each time the same message is sent again, for receivers to de-duplicate by.

Channels: email (SMTP), text message (Twilio's Messages API), a signed JSON webhook, a Slack
incoming webhook and a Microsoft Teams card.
"""

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from screening.urgency import Urgency

SEND_TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


# Characters: two text-message segments.  A longer text is cut short; its link never is.
SHORT_TEXT_LIMIT = 300


def _short(text: str, link: str) -> str:
    """``text`` then ``link``, in at most ``SHORT_TEXT_LIMIT`` characters: the text is cut, the
    link never is."""
    room = SHORT_TEXT_LIMIT - len(link) - 1
    if len(text) > room:
        text = text[:max(0, room - 1)].rstrip() + "…"
    return f"{text} {link}".strip()


@dataclass(frozen=True)
class AlertMessage:
    """One alert, to one person.  ``advice`` is what the patient was told, as a clause ("call 999
    now"); ``deadline`` is when the sweep acts next unless someone does (the clinic's local time,
    in words); ``acknowledge_link`` acknowledges in one tap after sign-in.  ``reason`` is the
    notification's (``Notification.Reason``): a follow-up page asks for the call's outcome of an
    alert already acknowledged, so it carries the case's link instead of an acknowledgement
    link."""

    notification_id: int
    reference: str
    urgency: str
    link: str
    level: int
    advice: str = ""
    deadline: str = ""
    escalates_at: str = ""  # ISO 8601, for machines
    acknowledge_link: str = ""
    reason: str = "page"

    @property
    def key(self) -> str:
        return f"alert-notification-{self.notification_id}"

    @property
    def follow_up(self) -> bool:
        return self.reason in ("follow_up", "follow_up_escalation")

    @property
    def subject(self) -> str:
        if self.reason == "follow_up":
            return f"[{self.urgency.upper()}] Intake {self.reference}: no call outcome recorded yet"
        escalated = ((" (escalated: no call outcome recorded)" if self.follow_up
                      else " (escalated: not yet acknowledged)") if self.level else "")
        return f"[{self.urgency.upper()}] Intake {self.reference} needs a clinician{escalated}"

    @property
    def body(self) -> str:
        told = f"The patient was told: {self.advice}.\n" if self.advice else ""
        if self.follow_up:
            return (
                f"An intake screened as {self.urgency.upper()} was acknowledged, but nobody has "
                "recorded what came of the call to the patient.\n\n"
                f"Reference: {self.reference}\n{told}\n"
                f"Call the patient and record the outcome on the case page (log in required):\n"
                f"{self.link}\n\n"
                + (f"If no outcome is recorded by {self.deadline}, this alert is escalated to "
                   "the next person.\n" if self.deadline else "")
            )
        acknowledge = (f"Acknowledge it in one tap (log in required):\n{self.acknowledge_link}"
                       f"\n\nOr open the case:\n{self.link}\n\n" if self.acknowledge_link
                       else f"Open the case and acknowledge this alert (log in required):\n"
                            f"{self.link}\n\n")
        return (
            f"An intake screened as {self.urgency.upper()} needs a clinician.\n\n"
            f"Reference: {self.reference}\n{told}\n{acknowledge}"
            + (f"If nobody acknowledges it by {self.deadline}, it is escalated to the next "
               "person.\n" if self.deadline
               else "Until someone acknowledges it, this alert will be escalated.\n")
        )

    @property
    def short_text(self) -> str:
        """For channels that carry a short text only (a text message): the urgency, the
        reference, what the patient was told, the deadline and one link; at most
        ``SHORT_TEXT_LIMIT`` characters, and nothing about the patient."""
        told = f" Patient told: {self.advice}." if self.advice else ""
        if self.follow_up:
            by = f" by {self.deadline}" if self.deadline else ""
            return _short(f"{self.urgency.upper()} {self.reference}: acknowledged, no call "
                          f"outcome recorded.{told} Record it{by} or it escalates:", self.link)
        by = f" by {self.deadline}" if self.deadline else ""
        escalated = " (escalated)" if self.level else ""
        return _short(f"{self.urgency.upper()} {self.reference}{escalated}.{told} Acknowledge"
                      f"{by} or it escalates:", self.acknowledge_link or self.link)

    def as_json(self) -> dict:
        return {"reference": self.reference, "urgency": self.urgency, "link": self.link,
                "escalation_level": self.level, "text": self.subject, "reason": self.reason,
                "patient_told": self.advice, "escalates_at": self.escalates_at,
                "escalates_at_local": self.deadline,
                "acknowledge_link": self.acknowledge_link, "short_text": self.short_text}


class DigestCase(NamedTuple):
    """One held case in a digest: its reference, links, what the patient was told and when it
    escalates (as in ``AlertMessage``)."""

    reference: str
    link: str
    advice: str = ""
    deadline: str = ""
    acknowledge_link: str = ""
    escalates_at: str = ""


@dataclass(frozen=True)
class DigestMessage:
    """The urgent cases held for one clinician during a burst, in one page: how many, their
    references, what each patient was told, their deadlines and links, and the queue.
    ``minutes`` is the period they arrived in: the burst's window, or longer when retries
    delayed the digest."""

    key: str
    cases: tuple[DigestCase, ...]  # oldest first
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
        references = ", ".join(case.reference for case in self.cases)
        each = "\n\n".join(
            f"{case.reference}"
            + (f": the patient was told: {case.advice}." if case.advice else "")
            + (f" Escalates at {case.deadline} unless acknowledged." if case.deadline else "")
            + (f"\nAcknowledge in one tap: {case.acknowledge_link}" if case.acknowledge_link
               else "")
            + f"\nOpen the case: {case.link}"
            for case in self.cases)
        return (
            f"{self.headline}: {references}.\n\n"
            "Held so that a burst of urgent cases pages you once, not once each.\n\n"
            f"{each}\n\n"
            f"Open the queue (log in required):\n{self.queue_link}\n\n"
            "Each case is escalated on its own until someone acknowledges it.\n"
        )

    @property
    def short_text(self) -> str:
        references = ", ".join(case.reference for case in self.cases)
        return _short(f"{self.subject}: {references}. Open the queue:", self.queue_link)

    def as_json(self) -> dict:
        return {"digest": True, "urgency": self.urgency, "count": len(self.cases),
                "minutes": self.minutes,
                "cases": [{"reference": case.reference, "link": case.link,
                           "patient_told": case.advice, "escalates_at": case.escalates_at,
                           "escalates_at_local": case.deadline,
                           "acknowledge_link": case.acknowledge_link}
                          for case in self.cases],
                "link": self.queue_link, "escalation_level": 0, "text": self.subject,
                "short_text": self.short_text}


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


def _post(url: str, body: bytes, *, headers: dict[str, str], what: str,
          auth: tuple[str, str] | None = None) -> bytes:
    """POST ``body`` to ``url`` and return the start of the answer; every failure becomes a
    ``DeliveryError`` that says whether trying again could help."""
    headers = {"User-Agent": "clinic-alerts/1", **headers}
    if auth is not None:
        pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    request = urllib.request.Request(  # noqa: S310 - http(s) URLs only (URLField, settings)
        url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.read(4096)
    except urllib.error.HTTPError as error:
        # 4xx means the request itself is wrong (bad URL, auth, number): retrying will not
        # help, except for the ones that mean "later".
        permanent = 400 <= error.code < 500 and error.code not in (408, 425, 429)
        raise DeliveryError(f"HTTP {error.code}", permanent=permanent) from None
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"{what} unreachable: {type(error).__name__}",
                            permanent=False) from None


def _require_https(address: str) -> None:
    if settings.WEBHOOK_REQUIRE_HTTPS and not address.lower().startswith("https://"):
        # Plain http would carry the alert (and a signature's replay window) in clear.
        raise DeliveryError("webhook URL is not https", permanent=True)


class WebhookTransport:
    name = "webhook"

    def send(self, address: str, message: Message) -> None:
        _require_https(address)
        body = json.dumps(message.as_json()).encode()
        _post(address, body, what="webhook", headers={
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            SIGNATURE_HEADER: webhook_signature(body, timestamp=int(time.time()),
                                                secret=settings.WEBHOOK_SECRET),
        })


def _link(message: Message) -> str:
    return message.as_json().get("link", "")


def _urgency(message: Message) -> str:
    return message.as_json().get("urgency", "")


class SlackTransport:
    """A Slack incoming webhook: ``{"text": ...}`` in Slack's markup, the link as a link."""

    name = "slack"

    def send(self, address: str, message: Message) -> None:
        _require_https(address)
        link = _link(message)
        text = message.subject + (f"\n<{link}|Open it (log in required)>" if link else "")
        _post(address, json.dumps({"text": text}).encode(), what="Slack",
              headers={"Content-Type": "application/json"})


class TeamsTransport:
    """A Microsoft Teams incoming webhook (or a Teams Workflows "when a webhook request is
    received" flow): a message with one Adaptive Card, its title and an "Open" button."""

    name = "teams"

    def send(self, address: str, message: Message) -> None:
        _require_https(address)
        _post(address, json.dumps(teams_card(message)).encode(), what="Teams",
              headers={"Content-Type": "application/json"})


def teams_card(message: Message) -> dict:
    link = _link(message)
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True,
             "color": "Attention" if _urgency(message) in ("emergency", "urgent")
             else "Default"},
            {"type": "TextBlock", "text": message.short_text, "wrap": True},
        ],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open (log in required)",
                            "url": link}]
    return {"type": "message", "summary": message.subject, "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


def sms_status_callback_url() -> str:
    """Where the provider posts an SMS's delivery receipts, and the URL it signs them over."""
    return settings.SITE_URL.rstrip("/") + reverse("sms-status")


class SmsTransport:
    """A text message through Twilio's Messages API (or a provider with the same shape):
    ``POST {SMS_API_BASE}/2010-04-01/Accounts/{SID}/Messages.json``, form-encoded, basic auth;
    201 with the message's ``sid``, returned so its delivery receipts can be matched."""

    name = "sms"

    def send(self, address: str, message: Message) -> str:
        if not settings.SMS_ENABLED:
            raise DeliveryError("SMS is not set up (SMS_ACCOUNT_SID)", permanent=True)
        sid = settings.SMS_ACCOUNT_SID
        url = (f"{settings.SMS_API_BASE}/2010-04-01/Accounts/"
               f"{urllib.parse.quote(sid, safe='')}/Messages.json")
        body = urllib.parse.urlencode({
            "To": address, "From": settings.SMS_FROM, "Body": message.short_text,
            "StatusCallback": sms_status_callback_url(),
        }).encode()
        answer = _post(url, body, what="SMS provider", auth=(sid, settings.SMS_AUTH_TOKEN),
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "Accept": "application/json",
                                # Twilio ignores it; a provider that honours it de-duplicates.
                                "Idempotency-Key": message.key})
        try:
            return str(json.loads(answer).get("sid") or "")[:64]
        except (ValueError, AttributeError):
            # Accepted (2xx) but not the answer we know: sent, with no receipts to match.
            return ""


def twilio_signature(url: str, params: dict[str, str | list[str]], *, token: str) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 of the HMAC-SHA1, under the auth token, of the
    URL followed by each POST parameter's name and value, sorted by name (a repeated name: each
    of its values, sorted)."""
    data = url + "".join(
        f"{name}{value}" for name in sorted(params)
        for value in sorted(set([params[name]] if isinstance(params[name], str)
                                else params[name])))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


TRANSPORTS = {transport.name: transport for transport in (
    EmailTransport(), SmsTransport(), WebhookTransport(), SlackTransport(), TeamsTransport())}


def _codes(error: smtplib.SMTPRecipientsRefused) -> str:
    return ", ".join(str(code) for code, _ in error.recipients.values())
