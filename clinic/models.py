"""The clinic's own world: clinics and their opening hours, clinicians and the duty rota, and the
alerts that tell the clinician on duty about an urgent intake."""

import zoneinfo
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.constraints import check, unique
from core.immutability import AppendOnly
from screening.urgency import PAGING_CHOICES


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a time zone name; use one like Europe/London.",
            params={"value": value},
        )



class Channel(NamedTuple):
    """A way to reach a clinician: the transport's name
    (``clinic.alerting.transports.TRANSPORTS``) and
    the address on it."""

    name: str
    address: str


# Every channel, in the order a clinician's are tried when nothing else says: the transport's
# name and what the admin calls it.
CHANNEL_CHOICES = [
    ("email", "Email"),
    ("sms", "Text message (SMS)"),
    ("webhook", "Webhook"),
    ("slack", "Slack"),
    ("teams", "Microsoft Teams"),
]

validate_phone = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$",
    "Give a mobile number in international form: + and the country code, no spaces or "
    "leading 0, e.g. +447700900123.",
)


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_timezone],
        help_text="The clinic's local time zone; opening hours and the duty rota follow it.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="The clinic that receives intakes from the patient form and the API.",
    )
    phone = models.CharField(max_length=40, blank=True, help_text="The clinic's phone number.")
    emergency_number = models.CharField(
        max_length=20,
        default="999",
        help_text="The number patients are told to call in an emergency.",
    )
    out_of_hours_number = models.CharField(
        max_length=20,
        default="111",
        help_text="The line patients are told to call for urgent advice when the clinic is closed.",
    )
    emergency_escalation_minutes = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Escalate an unacknowledged emergency alert after this many minutes.",
    )
    urgent_escalation_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Escalate an unacknowledged urgent alert after this many minutes.",
    )
    soon_review_hours = models.PositiveIntegerField(
        "review window for soon cases (hours)",
        default=48,
        validators=[MinValueValidator(1)],
        help_text="A case screened as soon should be reviewed within this many hours; the queue "
        "flags one whose appointment is sooner than that.",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="clinics_staffed",
        help_text="Reception, practice managers and booking systems that manage this clinic's "
        "appointments (its clinicians may too).",
    )
    coverage_email = models.EmailField(
        blank=True,
        help_text="Where the daily rota check emails the problems it finds in the next 7 days "
        "(hours with nobody on duty, clinicians who cannot be reached, nights with no "
        "out-of-hours contact). Empty: every staff user who may change the duty rota.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            unique("is_default", name="one_default_clinic", when=models.Q(is_default=True),
                   message="Only one clinic can be the default."),
        ]

    def __str__(self):
        return self.name


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField(help_text="Local time the clinic opens.")
    closes = models.TimeField(help_text="Local time the clinic closes.")

    class Meta:
        ordering = ["clinic", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            check(models.Q(closes__gt=models.F("opens")), name="opening_hours_close_after_open",
                  message="The closing time must be after the opening time."),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M} to {self.closes:%H:%M}"


# --- Who is on duty -------------------------------------------------------------------------


class Clinician(models.Model):
    """A person who can be alerted, with the channels to reach them.  Which channels an alert
    pages, in what order and how soon, is theirs to set per urgency (``NotificationRule``);
    without rules, ``clinic.alerting.rules`` derives a plan from the channels they have.  After
    a channel fails, the others are tried in the order of ``CHANNEL_CHOICES``."""

    name = models.CharField(max_length=200)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="clinician",
        help_text="Their login, if they use the queue.",
    )
    email = models.EmailField(blank=True, help_text="Alerts are emailed here.")
    webhook_url = models.URLField(
        blank=True,
        max_length=500,
        help_text="Optional: alerts are also POSTed here as JSON when email fails (a chat or "
        "paging gateway).",
    )
    phone = models.CharField(
        "mobile number", max_length=16, blank=True, validators=[validate_phone],
        help_text="Optional: alerts are texted here (when the service has an SMS provider). "
        "International form, e.g. +447700900123.",
    )
    verified_phone = models.CharField(
        max_length=16, blank=True, editable=False,
        help_text="The number a text was last confirmed delivered to by the provider (a test "
        "page or an alert), and when: the mobile number is verified while it is the same.",
    )
    phone_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    slack_webhook_url = models.URLField(
        "Slack webhook", blank=True, max_length=500,
        help_text="Optional: a Slack incoming webhook address (https://hooks.slack.com/...) "
        "that alerts are posted to.",
    )
    teams_webhook_url = models.URLField(
        "Microsoft Teams webhook", blank=True, max_length=500,
        help_text="Optional: a Teams incoming webhook or Workflows address that alerts are "
        "posted to as a card.",
    )
    is_active = models.BooleanField(default=True, help_text="Untick to stop alerting them.")
    clinics = models.ManyToManyField(
        Clinic, blank=True, related_name="clinicians",
        help_text="The clinics they work at: they see these clinics' cases in the queue.",
    )

    history = HistoricalRecords(m2m_fields=[clinics])

    class Meta:
        ordering = ["name"]
        constraints = [
            check(
                ~models.Q(email="") | ~models.Q(webhook_url="") | ~models.Q(phone="")
                | ~models.Q(slack_webhook_url="") | ~models.Q(teams_webhook_url=""),
                  name="clinician_has_a_channel",
                  message="Give at least one of an email address, a mobile number, a webhook, a "
                          "Slack or a Teams address, so that alerts can reach this clinician."),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if settings.WEBHOOK_REQUIRE_HTTPS:
            errors = {field: "Use an https:// address: alerts must not travel unencrypted."
                      for field in ("webhook_url", "slack_webhook_url", "teams_webhook_url")
                      if getattr(self, field)
                      and not getattr(self, field).lower().startswith("https://")}
            if errors:
                raise ValidationError(errors)

    @property
    def phone_verified(self) -> bool:
        """Whether a text to their current number has been confirmed delivered (a changed
        number has to prove itself again)."""
        return bool(self.phone) and self.verified_phone == self.phone

    @property
    def channels(self) -> list["Channel"]:
        """Where to reach this clinician, in the order to try after a failure: each channel
        with its own address, so a channel can only ever be sent to its own address.  The
        mobile number counts only when the service has an SMS provider (``SMS_ENABLED``)."""
        addresses = {"email": self.email, "sms": self.phone if settings.SMS_ENABLED else "",
                     "webhook": self.webhook_url, "slack": self.slack_webhook_url,
                     "teams": self.teams_webhook_url}
        return [Channel(name, addresses[name]) for name, _ in CHANNEL_CHOICES if addresses[name]]

    def channels_from(self, first: str = "") -> list["Channel"]:
        """The channels a notification starting on ``first`` tries, in order: that one, then
        the others in the usual order (``first`` empty or gone: the usual order)."""
        channels = self.channels
        return ([c for c in channels if c.name == first]
                + [c for c in channels if c.name != first])


class NotificationRule(models.Model):
    """One step of how a clinician wants to be paged for alerts of one urgency: on this
    channel, ``delay_minutes`` after the alert reached them if nobody has acknowledged it by
    then (0: at once, together with the other steps at 0).  With no rules for an urgency, a
    plan is derived from their channels (``clinic.alerting.rules``)."""

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE,
                                  related_name="notification_rules")
    urgency = models.CharField(max_length=10, choices=PAGING_CHOICES)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    delay_minutes = models.PositiveIntegerField(
        "after (minutes)", default=0, validators=[MaxValueValidator(24 * 60)],
        help_text="0: at once. Otherwise this many minutes after the alert reached them, if "
        "nobody has acknowledged it by then.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order among the steps.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinician", "urgency", "position", "delay_minutes", "pk"]
        constraints = [
            unique("clinician", "urgency", "channel", name="one_notification_rule_per_channel",
                   message="This channel already has a step for this urgency."),
        ]

    def __str__(self):
        when = f"after {self.delay_minutes} min" if self.delay_minutes else "at once"
        return f"{self.get_urgency_display()}: {self.get_channel_display()} {when}"

    def clean(self):
        super().clean()
        clinician = getattr(self, "clinician", None)
        if clinician is None or not self.channel:
            return
        if self.channel == "sms" and not settings.SMS_ENABLED:
            raise ValidationError({"channel": "This service has no SMS provider set up "
                                              "(SMS_ACCOUNT_SID): texts cannot be sent."})
        if self.channel not in {c.name for c in clinician.channels}:
            raise ValidationError({"channel": f"Give their {self.get_channel_display()} "
                                              "address above first."})


class DutyShift(models.Model):
    """A clinician on duty on one weekday, every week, in the clinic's local time.  Leave the
    times empty to follow the clinic's opening hours that day."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="duty_shifts")
    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(choices=OpeningHours.Weekday.choices)
    starts = models.TimeField(null=True, blank=True, help_text="Empty: when the clinic opens.")
    ends = models.TimeField(null=True, blank=True, help_text="Empty: when the clinic closes.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinic", "weekday", "starts"]
        constraints = [
            check(
                models.Q(starts__isnull=True) | models.Q(ends__isnull=True)
                | models.Q(ends__gt=models.F("starts")), name="duty_shift_ends_after_it_starts",
                message="The shift must end after it starts."),
        ]

    def __str__(self):
        return f"{self.clinician} on {self.get_weekday_display()}"


class DutyContact(models.Model):
    """Who else is alerted: the backup chain (in order, when an alert is not acknowledged in
    time) and the out-of-hours contacts (alerted at once when the clinic is closed)."""

    class Role(models.TextChoices):
        BACKUP = "backup", "Backup (escalation chain)"
        OUT_OF_HOURS = "out_of_hours", "Out-of-hours contact"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="duty_contacts")
    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    position = models.PositiveIntegerField(default=0, help_text="Order within the role.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinic", "role", "position", "pk"]
        constraints = [
            unique("clinic", "role", "clinician", name="one_duty_contact_per_role",
                   message="This clinician already has this role at this clinic."),
        ]

    def __str__(self):
        return f"{self.clinician} ({self.get_role_display().lower()})"


class DutyCover(models.Model):
    """A change to the weekly rota on given dates: ``clinician`` is on duty instead of
    ``instead_of`` (empty: instead of everyone the weekly rota has on duty then).

    With times, the cover runs from ``starts`` to ``ends`` each day from ``first_day`` to
    ``last_day`` (an ``ends`` at or before ``starts`` runs overnight, to ``ends`` the next
    morning); without times, it takes over ``instead_of``'s weekly shifts on those days, or
    the clinic's opening hours when nobody is named.  A swap is two covers, one for each
    clinician's shift.  All times are the clinic's local time (``clinic.rota``)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="covers")
    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="covers",
                                  verbose_name="on duty", help_text="Who covers.")
    instead_of = models.ForeignKey(
        Clinician, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Who they stand in for: taken off duty for this time. Empty: everyone the "
        "weekly rota has on duty then.")
    first_day = models.DateField()
    last_day = models.DateField(null=True, blank=True, help_text="Empty: the first day only.")
    starts = models.TimeField("from", null=True, blank=True,
                              help_text="Empty (and Until empty): the shifts of the person "
                              "stood in for, or the opening hours.")
    ends = models.TimeField("until", null=True, blank=True,
                            help_text="At or before From: the cover runs overnight.")
    note = models.CharField(max_length=200, blank=True,
                            help_text="Optional, for the rota's readers, e.g. “swap with "
                            "Dr Patel”. No patient details.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinic", "first_day", "starts", "pk"]
        verbose_name = "cover or swap"
        verbose_name_plural = "cover and swaps"
        constraints = [
            check(models.Q(last_day__isnull=True) | models.Q(last_day__gte=models.F("first_day")),
                  name="duty_cover_last_day_not_before_first",
                  message="The last day cannot be before the first day."),
            check(
                models.Q(starts__isnull=True, ends__isnull=True)
                | models.Q(starts__isnull=False, ends__isnull=False),
                  name="duty_cover_both_times_or_neither",
                  message="Give both times (from and until) or neither."),
            check(models.Q(instead_of__isnull=True) | ~models.Q(instead_of=models.F("clinician")),
                  name="duty_cover_not_for_oneself",
                  message="A clinician cannot stand in for themselves."),
        ]

    def __str__(self):
        instead = f" instead of {self.instead_of}" if self.instead_of_id else ""
        days = (f"{self.first_day:%d %b %Y}" if not self.last_day
                or self.last_day == self.first_day
                else f"{self.first_day:%d %b} to {self.last_day:%d %b %Y}")
        return f"{self.clinician}{instead}, {days}"

    @property
    def until_day(self):
        return self.last_day or self.first_day


class Leave(models.Model):
    """A clinician away from ``first_day`` to ``last_day`` (both included, whole days in each
    clinic's local time): never paged then, not on duty, not a backup, not an out-of-hours
    contact."""

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="leave")
    first_day = models.DateField("first day away")
    last_day = models.DateField("last day away")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinician", "first_day"]
        verbose_name = "leave"
        verbose_name_plural = "leave"
        constraints = [
            check(models.Q(last_day__gte=models.F("first_day")),
                  name="leave_last_day_not_before_first",
                  message="The last day cannot be before the first day."),
        ]

    def __str__(self):
        return f"{self.clinician} away {self.first_day:%d %b} to {self.last_day:%d %b %Y}"


class DutyCalendarLink(models.Model):
    """A clinician's private address for their duty calendar (an iCalendar feed of their
    shifts).  Only a hash of the token is kept: the address is shown once, when it is made;
    making a new one or deleting this row turns the old address off."""

    clinician = models.OneToOneField(Clinician, on_delete=models.CASCADE,
                                     related_name="calendar_link")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"calendar link of {self.clinician}"


# --- Alerts ---------------------------------------------------------------------------------


class Alert(models.Model):
    """An urgent or emergency intake that someone must act on: the outbox row, created in the
    submission's own transaction, from which every notification is derived.

    ``level`` is how far along the escalation it is; ``escalate_at`` is when the sweep moves it
    on if nobody has acknowledged it.  Both live in the database, so a broker outage delays an
    alert but never loses it.
    """

    submission = models.OneToOneField(
        "intake.Submission", on_delete=models.CASCADE, related_name="alert"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="alerts")
    urgency = models.CharField(max_length=10, choices=PAGING_CHOICES)
    out_of_hours = models.BooleanField(
        default=False, help_text="The clinic was closed when the alert was raised."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.PositiveIntegerField(default=0)
    escalate_at = models.DateTimeField(db_index=True)
    escalation_plan = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="Who each step pages, frozen when the alert was raised: a list of steps, each "
        "a list of {clinician, name}.  Steps repeat from the start until someone "
        "acknowledges.  Empty for alerts raised before plans were kept.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Acknowledged is not resolved: after acknowledging, a clinician records the outcome of the
    # call (``CallOutcome``).  Until then the sweep follows the alert up at ``follow_up_at``:
    # the first time it pages the clinician who is calling again, after that it escalates
    # along the plan (``clinic.alerting.alerts``).
    follow_up_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the sweep next follows up an acknowledged alert with no call outcome "
        "recorded; empty once an outcome closes it (and for alerts from before outcomes).",
    )
    follow_ups = models.PositiveSmallIntegerField(
        default=0,
        help_text="Follow-ups since the last acknowledgement or 'no answer': the first pages "
        "the clinician again, later ones escalate.",
    )
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When a call outcome that closes the alert was recorded.",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("view_alert_response", "Can see how quickly alerts are answered (clinic lead)"),
        ]
        indexes = [
            models.Index(
                fields=["escalate_at"],
                condition=models.Q(acknowledged_at__isnull=True),
                name="alert_unacknowledged_due",
            ),
            models.Index(
                fields=["follow_up_at"],
                condition=models.Q(follow_up_at__isnull=False, resolved_at__isnull=True),
                name="alert_follow_up_due",
            ),
        ]

    def __str__(self):
        return f"{self.urgency} alert for {self.submission}"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class CallOutcome(models.Model):
    """What came of a call to the patient of an alerted case.  Any outcome but "no answer"
    resolves the alert; "no answer" keeps it open for another try (and its follow-up clock
    starts again)."""

    class Outcome(models.TextChoices):
        ADVISED_EMERGENCY = "advised_emergency", "Patient called: advised A&E / 999"
        BOOKED_TODAY = "booked_today", "Patient called: booked today"
        SELF_CARE = "self_care", "Patient called: advised self-care / appointment kept"
        NO_ANSWER = "no_answer", "No answer: try again"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="call_outcomes")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alert", "recorded_at", "pk"]

    def __str__(self):
        return f"{self.get_outcome_display()} ({self.recorded_at:%Y-%m-%d %H:%M})"

    @property
    def resolves(self) -> bool:
        return self.outcome != self.Outcome.NO_ANSWER


class AlertLink(models.Model):
    """A link in a page that acknowledges its alert in one tap after sign-in
    (``/alerts/<token>/``).  Only the token's SHA-256 is kept, so the table cannot be used to
    make links; each works once, until ``expires_at`` (``ALERT_LINK_MAX_AGE_MINUTES``)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="links")
    notification = models.ForeignKey(
        "Notification", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="The page the link travelled in.",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"acknowledgement link {self.pk} for alert {self.alert_id}"


class Notification(models.Model):
    """One person to be told about an alert at one escalation level.  Delivery works through
    the person's channels in order; each try is a ``DeliveryAttempt``.

    A ``grouped`` notification is an urgent alert held for the person's digest: it waits until
    ``next_attempt_at`` (the end of the burst's window) and is then sent in one message with
    the others of that person that are due, never on its own (``clinic.alerting.alerts``).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed on every channel"
        CANCELLED = "cancelled", "Not needed (acknowledged)"

    class Reason(models.TextChoices):
        PAGE = "page", "Paged"
        ESCALATION = "escalation", "Escalated: not acknowledged"
        FOLLOW_UP = "follow_up", "Paged again: no call outcome recorded"
        FOLLOW_UP_ESCALATION = "follow_up_escalation", "Escalated: no call outcome recorded"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    clinician = models.ForeignKey(Clinician, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.PAGE)
    sequence = models.PositiveSmallIntegerField(
        default=0, help_text="0, except for a follow-up page: which follow-up of the alert "
        "it is (a clinician can be paged again at the same level)."
    )
    step = models.PositiveSmallIntegerField(
        default=0, help_text="Which step of the person's notification plan this is.")
    channel = models.CharField(
        max_length=10, blank=True,
        help_text="The channel the step starts on; after it fails, the person's others are "
        "tried. Empty: their usual first channel.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    channel_index = models.PositiveSmallIntegerField(
        default=0, help_text="Which channel of the step's route (``route``) is being tried."
    )
    tries_on_channel = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker holds it until then; after, it may be retried."
    )
    last_queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    grouped = models.BooleanField(
        default=False,
        help_text="Held for the clinician's digest of urgent alerts: sent with the others of "
        "its burst at the end of the window, not on its own.",
    )
    claim_token = models.UUIDField(
        null=True, blank=True, editable=False,
        help_text="The claim that last took it: a digest's (its delivery attempts carry the "
        "same value) or a delivery run's.",
    )

    class Meta:
        ordering = ["alert", "level", "pk"]
        constraints = [
            unique("alert", "level", "clinician", "sequence", "step",
                   name="one_notification_per_step"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="notification_due",
            ),
            # Whether a burst is open for a clinician: their latest first page.
            models.Index(
                fields=["clinician", "created_at"],
                condition=models.Q(level=0, grouped=False),
                name="notification_first_pages",
            ),
        ]

    def __str__(self):
        return f"notification {self.pk} ({self.status})"

    @property
    def is_follow_up(self) -> bool:
        """A page about an acknowledged alert with no call outcome: needed until one is
        recorded, not merely until the alert is acknowledged."""
        return self.reason in FOLLOW_UP_REASONS

    @property
    def route(self) -> list[Channel]:
        """The channels this notification tries, in order (``channel_index`` is where it is)."""
        return self.clinician.channels_from(self.channel)


FOLLOW_UP_REASONS = (Notification.Reason.FOLLOW_UP, Notification.Reason.FOLLOW_UP_ESCALATION)


class DeliveryAttempt(models.Model):
    """One try on one channel, written before sending and completed after, so a crash leaves a
    trace (an attempt with no outcome)."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        TEMPORARY_FAILURE = "temporary_failure", "Failed, will retry"
        PERMANENT_FAILURE = "permanent_failure", "Failed, will not retry this channel"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts"
    )
    channel = models.CharField(max_length=10)
    digest_token = models.UUIDField(
        null=True, blank=True, editable=False,
        help_text="Set when the attempt was one message covering several held notifications "
        "(a digest): every notification it covered has an attempt with the same value.",
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="The provider's id for the message (an SMS's sid), to match its delivery "
        "receipts.")
    receipt = models.CharField(
        max_length=20, blank=True,
        help_text="The provider's latest delivery status for the message (e.g. delivered, "
        "undelivered).")
    receipt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["notification", "started_at", "pk"]

    def __str__(self):
        return f"{self.channel} attempt {self.pk}: {self.outcome or 'no outcome'}"

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds() * 1000)


class ChannelCheck(models.Model):
    """A test page: a test message sent to one clinician on one channel from the admin, to
    prove the channel works.  Never an alert: it belongs to no alert and pages nobody else.
    Written before sending and completed after, like a ``DeliveryAttempt``; the rota check
    counts its outcome with theirs."""

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE,
                                  related_name="channel_checks")
    channel = models.CharField(max_length=10)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=DeliveryAttempt.Outcome.choices,
                               blank=True)
    error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    receipt = models.CharField(max_length=20, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = "test page"

    def __str__(self):
        return f"test page to {self.clinician} by {self.channel}: {self.outcome or 'no outcome'}"


class Heartbeat(models.Model):
    """When a periodic job last finished, for the health check."""

    name = models.CharField(max_length=50, unique=True)
    last_run_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_run_at:%Y-%m-%d %H:%M:%S}"


# --- Audit ------------------------------------------------------------------------------------


class AuditEvent(AppendOnly):
    """Who did what to which case, and when.  Append-only: the application never changes or
    deletes an event (``save`` refuses updates, ``delete`` refuses), and the admin shows them
    read-only."""

    append_only_name = "Audit events"

    class Action(models.TextChoices):
        VIEW_CASE = "view_case", "Viewed a case"
        ACKNOWLEDGE = "acknowledge", "Acknowledged an alert"
        CLAIM = "claim", "Claimed a case"
        REVIEW = "review", "Marked a case reviewed"
        REOPEN = "reopen", "Reopened a case"
        ADMIN_CHANGE = "admin_change", "Changed something in the admin"
        EXPORT = "export", "Exported a patient's data"
        ERASE = "erase", "Erased a patient's data"
        ANONYMISE = "anonymise", "Anonymised after the retention period"
        TEST_PAGE = "test_page", "Sent a test page"
        VIEW_REPORT = "view_report", "Viewed the alert response report"
        CALENDAR_LINK = "calendar_link", "Made or turned off a duty calendar link"
        CALL_OUTCOME = "call_outcome", "Recorded a call's outcome"
        SEND_AGAIN = "send_again", "Sent a failed notification again"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text="Empty for the service's own scheduled work.",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    submission = models.ForeignKey(
        "intake.Submission", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reference = models.CharField(
        max_length=20, blank=True, help_text="The case reference, kept if the case is erased."
    )
    detail = models.CharField(max_length=500, blank=True)
    # An admin change, field by field: [{"what", "field", "before", "after"}, ...] in words.
    changes = models.JSONField(default=list, blank=True)
    # The admin page of what was changed (empty when it has none, or was deleted).
    object_url = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["reference", "at"], name="audit_by_reference")]

    def __str__(self):
        actor = self.actor or "the service"
        return f"{actor} {self.get_action_display().lower()} {self.reference}".strip()
