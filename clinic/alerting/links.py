"""The one-tap acknowledgement link every page carries (``/alerts/<token>/``).

A link is a random token; only its SHA-256 is stored (``AlertLink.token_hash``), so a copy of
the database cannot be used to acknowledge anything, and a token changed by one character
matches nothing.  Each works once and until ``ALERT_LINK_MAX_AGE_MINUTES`` after it was made.
A new link is made each time a page is built (a retry, a fallback channel, a digest: one per
case), written before the page leaves, like its ``DeliveryAttempt``.

Opening a link never acknowledges by itself: mail scanners and chat previews fetch links.  The
page it opens (after the usual sign-in, two-factor included) has one button that does
(``clinic.review.cases.acknowledge_by_link``, which checks that the signed-in clinician may see
the clinic's cases and audits the acknowledgement like the case page's button).
"""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, AlertLink, Notification


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_link(alert: Alert, *, notification: Notification | None = None,
              now: datetime.datetime | None = None) -> str:
    """A new acknowledgement link for ``alert`` (the full address, from ``SITE_URL``)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(24)
    AlertLink.objects.create(
        alert=alert, notification=notification, token_hash=token_hash(token), created_at=now,
        expires_at=now + datetime.timedelta(minutes=settings.ALERT_LINK_MAX_AGE_MINUTES))
    return site_link(reverse("alert-link", args=[token]))


def find_link(token: str) -> AlertLink | None:
    """The link this token makes, or None for a token that was never made (or was changed)."""
    if not token or len(token) > 100:
        return None
    return (AlertLink.objects.select_related("alert__submission", "alert__acknowledged_by",
                                             "used_by")
            .filter(token_hash=token_hash(token)).first())


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path
