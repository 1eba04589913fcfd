"""The clinic admin: each clinic's details, hours and duty rota with its cover and swaps, the
rota as a week calendar and the rota check; clinicians with their leave and a test page button;
alerts with their deliveries and escalations (read-only); and the audit trail (read-only)."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTimeWidget
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import AuditedAdmin
from clinic.alerting import alerts, coverage, rules
from clinic.hours import local_time
from clinic.models import (
    Alert,
    AuditEvent,
    Clinic,
    Clinician,
    DeliveryAttempt,
    DutyContact,
    DutyCover,
    DutyShift,
    Leave,
    Notification,
    NotificationRule,
    OpeningHours,
)
from clinic.rota import rota_week

# Times as 09:00, never 09:00:00: the rota has no seconds.
HOURS_AND_MINUTES = {models.TimeField: {"widget": AdminTimeWidget(format="%H:%M")}}

# The time zones offered for a clinic, by country; the country of the clinic's own zone comes
# first.  A short list to pick from instead of the ~600 names of the time zone database; a
# clinic's saved zone is always offered, so nothing is lost by saving its page.
TIME_ZONES_BY_COUNTRY = {
    "United Kingdom": ["Europe/London"],
    "Ireland": ["Europe/Dublin"],
    "Isle of Man, Jersey, Guernsey": ["Europe/Isle_of_Man", "Europe/Jersey", "Europe/Guernsey"],
    "Gibraltar": ["Europe/Gibraltar"],
    "Netherlands": ["Europe/Amsterdam"],
    "Belgium": ["Europe/Brussels"],
    "France": ["Europe/Paris"],
    "Germany": ["Europe/Berlin"],
    "Spain": ["Europe/Madrid", "Atlantic/Canary"],
    "Portugal": ["Europe/Lisbon", "Atlantic/Madeira", "Atlantic/Azores"],
    "Italy": ["Europe/Rome"],
    "Switzerland": ["Europe/Zurich"],
    "Denmark": ["Europe/Copenhagen"],
    "Norway": ["Europe/Oslo"],
    "Sweden": ["Europe/Stockholm"],
    "Finland": ["Europe/Helsinki"],
    "Poland": ["Europe/Warsaw"],
    "Greece": ["Europe/Athens"],
    "Malta": ["Europe/Malta"],
    "Cyprus": ["Asia/Nicosia"],
    "United States": ["America/New_York", "America/Chicago", "America/Denver",
                      "America/Phoenix", "America/Los_Angeles", "America/Anchorage",
                      "Pacific/Honolulu"],
    "Canada": ["America/St_Johns", "America/Halifax", "America/Toronto", "America/Winnipeg",
               "America/Edmonton", "America/Vancouver"],
    "Australia": ["Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane",
                  "Australia/Adelaide", "Australia/Perth", "Australia/Hobart",
                  "Australia/Darwin"],
    "New Zealand": ["Pacific/Auckland"],
    "South Africa": ["Africa/Johannesburg"],
    "United Arab Emirates": ["Asia/Dubai"],
    "India": ["Asia/Kolkata"],
    "Singapore": ["Asia/Singapore"],
    "Hong Kong": ["Asia/Hong_Kong"],
}


def time_zone_choices(current: str) -> list:
    """The grouped choices of the time zone field: the country of ``current`` first."""
    countries = list(TIME_ZONES_BY_COUNTRY.items())
    own = [item for item in countries if current in item[1]]
    choices = [(country, [(zone, zone.split("/")[-1].replace("_", " ") + f" ({zone})")
                          for zone in zones])
               for country, zones in own + [item for item in countries if item not in own]]
    if current and not own:
        choices.insert(0, ("This clinic", [(current, current)]))
    return choices


class RowsInline(admin.TabularInline):
    """A table of rows on a clinic's, a clinician's or an alert's page: none offered empty (a
    row is added with "Add another"; ``OpeningHoursInline`` gives a new clinic its week)."""

    extra = 0


class OpeningHoursInline(RowsInline):
    model = OpeningHours
    formfield_overrides = HOURS_AND_MINUTES
    fields = ("weekday", "opens", "closes")
    verbose_name = "opening hours"
    verbose_name_plural = (
        "Opening hours (local time; add a row for each day the clinic is open, or two rows for "
        "a day with a lunch break)"
    )

    def get_extra(self, request, obj=None, **kwargs):
        # A new clinic starts with its working week to fill in.
        return 5 if obj is None else 0


class DutyShiftInline(RowsInline):
    model = DutyShift
    formfield_overrides = HOURS_AND_MINUTES
    fields = ("weekday", "clinician", "starts", "ends")
    verbose_name = "duty shift"
    verbose_name_plural = (
        "Duty rota: who is on duty each week (local time; leave the times empty to follow the "
        "opening hours that day)"
    )


COVER_HELP = (
    "Times are the clinic's local time. Cover for a day: the day, who covers, and who they "
    "stand in for; leave the times empty to take over that person's shifts. Cover for some "
    "hours: give the times too (an end at or before the start runs overnight). Leave "
    "“instead of” empty to replace everyone on the weekly rota then. A swap is two covers: A "
    "stands in for B on B's date, and B stands in for A on A's date. For a clinician's days "
    "away, add leave on their own page."
)


class DutyCoverInline(RowsInline):
    model = DutyCover
    fk_name = "clinic"
    formfield_overrides = HOURS_AND_MINUTES
    fields = ("first_day", "last_day", "starts", "ends", "clinician", "instead_of", "note")
    verbose_name = "cover or swap"
    verbose_name_plural = ("Cover and swaps: on these dates, someone else is on duty (past "
                           "cover is not listed here). " + COVER_HELP)

    def get_queryset(self, request):
        # What is still to come (or running): old cover stays in the history, not the form.
        recent = timezone.localdate() - datetime.timedelta(days=1)
        return super().get_queryset(request).filter(
            models.Q(last_day__gte=recent) | models.Q(last_day__isnull=True,
                                                      first_day__gte=recent))


class DutyContactInline(RowsInline):
    model = DutyContact
    fields = ("role", "position", "clinician")
    verbose_name = "backup or out-of-hours contact"
    verbose_name_plural = (
        "Backups (alerted in order when an alert is not acknowledged in time) and out-of-hours "
        "contacts (alerted at once when the clinic is closed)"
    )


@admin.register(Clinic)
class ClinicAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("name", "is_default", "phone", "timezone", "rota_calendar")
    list_display_links = ("name",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OpeningHoursInline, DutyShiftInline, DutyCoverInline, DutyContactInline]
    filter_horizontal = ("staff",)
    fieldsets = [
        (None, {"fields": ("name", "slug", "is_default", "timezone")}),
        ("Phone numbers patients are given", {
            "fields": ("phone", "emergency_number", "out_of_hours_number"),
        }),
        ("Alerts to clinicians", {
            "fields": ("emergency_escalation_minutes", "urgent_escalation_minutes"),
            "description": "If nobody acknowledges an alert within this many minutes, it is "
            "escalated.",
        }),
        ("Patients' forms and appointments", {
            "fields": ("soon_review_hours", "staff"),
            "description": "The clinic's own form is at /c/&lt;short name&gt;/. Staff listed "
            "here (reception, practice managers, a booking system's account) manage its "
            "appointments, given the appointment permissions; its clinicians may too.",
        }),
        ("Rota check", {
            "fields": ("coverage_email",),
            "description": "Each morning the next 7 days of the rota are checked: hours the "
            "clinic is open with nobody on duty, clinicians who cannot be reached, nights with "
            "no out-of-hours contact. Problems are emailed; nothing is sent when all is well.",
        }),
    ]

    @admin.display(description="Rota")
    def rota_calendar(self, clinic):
        return format_html('<a href="{}">Week calendar</a>',
                           reverse("admin:clinic_clinic_rota", args=[clinic.pk]))

    def get_urls(self):
        own = [
            path("<path:object_id>/rota/", self.admin_site.admin_view(self.rota_view),
                 name="clinic_clinic_rota"),
            path("coverage/", self.admin_site.admin_view(self.coverage_view),
                 name="clinic_clinic_coverage"),
        ]
        return own + super().get_urls()

    def rota_view(self, request, object_id):
        """The effective rota of one week, hour by hour, cover and leave marked."""
        clinic = self.get_object(request, object_id)
        if clinic is None:
            raise Http404("No such clinic.")
        if not self.has_view_permission(request, clinic):
            raise PermissionDenied
        try:
            day = datetime.date.fromisoformat(request.GET.get("week", ""))
        except ValueError:
            day = local_time(clinic, timezone.now()).date()
        monday = day - datetime.timedelta(days=day.weekday())
        week = rota_week(clinic, monday)
        return TemplateResponse(request, "admin/clinic/clinic/rota.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": clinic, "clinic": clinic, "week": week,
            "title": f"Duty rota of {clinic.name}, week of {monday:%d %B %Y}",
            "previous_week": monday - datetime.timedelta(weeks=1),
            "next_week": monday + datetime.timedelta(weeks=1),
            "contacts": DutyContact.objects.filter(clinic=clinic).select_related("clinician"),
            "can_change": self.has_change_permission(request, clinic),
            "can_add_cover": request.user.has_perm("clinic.add_dutycover"),
        })

    def coverage_view(self, request):
        """The rota check's findings for every clinic, now; sends nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "admin/clinic/clinic/coverage.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": "Rota check: the next 7 days",
            "reports": coverage.coverage_reports(),
        })

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        timezone_field = form.base_fields.get("timezone")
        if timezone_field is not None:
            timezone_field.choices = time_zone_choices(obj.timezone if obj else
                                                       Clinic._meta.get_field("timezone").default)
        return form

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            # A short list to pick from rather than a name to spell right (get_form puts the
            # clinic's own country first); the model still checks it is a real zone.
            return forms.TypedChoiceField(
                choices=time_zone_choices(db_field.default),
                initial=db_field.default,
                label="Time zone",
                help_text=db_field.help_text,
            )
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        labels = {
            "slug": "Short name for web addresses",
            "is_default": "Receives patient intakes",
            "timezone": "Time zone",
            "phone": "Clinic phone number",
            "emergency_number": "Emergency number",
            "out_of_hours_number": "Out-of-hours advice number",
            "emergency_escalation_minutes": "Escalate an emergency alert after (minutes)",
            "urgent_escalation_minutes": "Escalate an urgent alert after (minutes)",
        }
        if field is not None and db_field.name in labels:
            field.label = labels[db_field.name]
        return field


class LeaveInline(RowsInline):
    model = Leave
    fields = ("first_day", "last_day")
    verbose_name = "leave"
    verbose_name_plural = (
        "Leave: days away (both days included). They are not paged on those days at any "
        "clinic: not on duty, not as a backup, not as an out-of-hours contact. Past leave is "
        "not listed here."
    )

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            last_day__gte=timezone.localdate() - datetime.timedelta(days=1))


class NotificationRuleInline(RowsInline):
    model = NotificationRule
    fields = ("urgency", "position", "channel", "delay_minutes")
    verbose_name = "paging step"
    verbose_name_plural = (
        "How they are paged (optional): for each urgency, the channels an alert pages, in "
        "order, and how many minutes after the alert reached them (0: at once, together). "
        "Later steps are sent only while nobody has acknowledged the alert; a channel that "
        "fails falls back to their others. Without steps for an urgency: an emergency goes by "
        "email and text at once; an urgent alert by their first channel, then a text "
        f"{rules.DEFAULT_URGENT_SMS_MINUTES} minutes later."
    )


@admin.register(Clinician)
class ClinicianAdmin(AuditedAdmin, SimpleHistoryAdmin):
    list_display = ("name", "email", "phone", "mobile_verified", "has_webhook", "is_active",
                    "user")
    list_filter = ("is_active", "clinics")
    search_fields = ("name", "email")
    filter_horizontal = ("clinics",)
    fields = ("name", "user", "email", "phone", "mobile_verified", "webhook_url",
              "slack_webhook_url", "teams_webhook_url", "clinics", "is_active", "test_pages")
    readonly_fields = ("mobile_verified", "test_pages")
    inlines = [NotificationRuleInline, LeaveInline]
    change_form_template = "admin/clinic/clinician/change_form.html"
    # A webhook address typed without a scheme is taken as https://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(boolean=True, description="Webhook")
    def has_webhook(self, clinician):
        return bool(clinician.webhook_url)

    @admin.display(boolean=True, description="Mobile verified")
    def mobile_verified(self, clinician):
        """A text to their current number was confirmed delivered (a test page proves it)."""
        return clinician.phone_verified if clinician.phone else None

    @admin.display(description="Recent test pages")
    def test_pages(self, clinician):
        checks = clinician.channel_checks.all()[:6] if clinician.pk else []
        return format_html_join(
            mark_safe("<br>"), "{} {}: {} {}{}",
            ((timezone.localtime(check.started_at).strftime("%d %b %Y %H:%M"), check.channel,
              check.get_outcome_display() or "no outcome (interrupted)", check.error,
              f" (receipt: {check.receipt})" if check.receipt else "")
             for check in checks),
        ) or "none yet: use “Send test page” above to check their channels."

    def get_urls(self):
        own = [path("<path:object_id>/test-page/",
                    self.admin_site.admin_view(self.test_page_view),
                    name="clinic_clinician_test_page")]
        return own + super().get_urls()

    def test_page_view(self, request, object_id):
        """POST: send a test page on each of the clinician's channels, then back to their
        page with the outcome of each."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        clinician = get_object_or_404(Clinician, pk=object_id)
        if not self.has_change_permission(request, clinician):
            raise PermissionDenied
        checks = coverage.send_test_page(clinician, by=request.user)
        if not checks:
            messages.error(request, f"{clinician.name} has no channel to send a test page on.")
        for check in checks:
            if check.outcome == DeliveryAttempt.Outcome.SENT:
                messages.success(request, f"Test page sent to {clinician.name} by "
                                          f"{check.channel}.")
            else:
                messages.error(request, f"Test page to {clinician.name} by {check.channel} "
                                        f"failed: {check.error} "
                                        f"({check.get_outcome_display().lower()}).")
        return redirect("admin:clinic_clinician_change", clinician.pk)


@admin.register(DutyCover)
class DutyCoverAdmin(AuditedAdmin, SimpleHistoryAdmin):
    """Every cover and swap, past ones included (the clinic's page lists what is to come).
    Cover added from the rota calendar (“Cover” under a day) goes back to that week."""

    list_display = ("first_day", "last_day", "starts_at", "ends_at", "clinic", "clinician",
                    "instead_of", "note")
    formfield_overrides = HOURS_AND_MINUTES

    @admin.display(description="Starts", ordering="starts")
    def starts_at(self, cover):
        return cover.starts.strftime("%H:%M") if cover.starts else "—"

    @admin.display(description="Ends", ordering="ends")
    def ends_at(self, cover):
        return cover.ends.strftime("%H:%M") if cover.ends else "—"

    def response_add(self, request, obj, post_url_continue=None):
        if any(key in request.POST for key in ("_continue", "_addanother", "_popup")):
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"{obj.clinician} covers on {obj.first_day:%A %d %B %Y}.",
                          messages.SUCCESS)
        return redirect(reverse("admin:clinic_clinic_rota", args=[obj.clinic_id])
                        + f"?week={obj.first_day.isoformat()}")
    list_filter = ("clinic", "clinician")
    date_hierarchy = "first_day"
    fieldsets = [(None, {
        "fields": ("clinic", "first_day", "last_day", "starts", "ends", "clinician",
                   "instead_of", "note"),
        "description": COVER_HELP,
    })]
    list_select_related = ("clinic", "clinician", "instead_of")


@admin.register(Leave)
class LeaveAdmin(AuditedAdmin, SimpleHistoryAdmin):
    """Every clinician's leave, past included (their own page lists what is to come)."""

    list_display = ("clinician", "first_day", "last_day")
    list_filter = ("clinician",)
    date_hierarchy = "first_day"
    list_select_related = ("clinician",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the application writes and nobody edits: alerts, the audit trail."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NotificationInline(RowsInline):
    model = Notification
    fields = ("level", "reason", "clinician", "step", "channel", "status", "grouped",
              "created_at", "next_attempt_at", "delivered_at", "deliveries")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Notifications and their delivery attempts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Delivery attempts")
    def deliveries(self, notification):
        return format_html_join(
            mark_safe("<br>"), "{} {}{}: {} {}{}",
            ((a.started_at.strftime("%H:%M:%S"), a.channel,
              " (digest)" if a.digest_token else "",
              a.get_outcome_display() or "no outcome (interrupted)", a.error,
              f" (receipt: {a.receipt})" if a.receipt and a.receipt not in a.error else "")
             for a in notification.attempts.all()),
        ) or "none yet"


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "reference", "urgency", "clinic", "level", "acknowledged",
                    "escalate_at")
    list_filter = ("urgency", "clinic", ("acknowledged_at", admin.EmptyFieldListFilter))
    search_fields = ("submission__reference",)
    date_hierarchy = "created_at"
    fields = ("reference", "urgency", "clinic", "out_of_hours", "created_at", "level",
              "escalate_at", "acknowledged_at", "acknowledged_by")
    readonly_fields = fields
    inlines = [NotificationInline]
    list_select_related = ("submission", "clinic", "acknowledged_by")
    actions = ["send_again"]

    def has_send_again_permission(self, request):
        return request.user.has_perm("clinic.change_notification")

    @admin.action(description="Send failed notifications again", permissions=["send_again"])
    def send_again(self, request, queryset):
        """Each notification of the chosen alerts that failed on every channel goes back to the
        person's first channel (``clinic.alerting.alerts.send_again``: once per click, audited
        with who asked)."""
        failed = Notification.objects.filter(alert__in=queryset,
                                             status=Notification.Status.FAILED)
        sent = sum(alerts.send_again(pk, by=request.user)
                   for pk in failed.values_list("pk", flat=True))
        if sent:
            self.message_user(request, f"Sending {sent} failed notification(s) again: their "
                                       "new attempts appear on each alert.", messages.SUCCESS)
        else:
            self.message_user(request, "Nothing to send again: no failed notification that is "
                                       "still needed (an acknowledged alert needs no page).",
                              messages.WARNING)

    @admin.display(description="Case", ordering="submission__reference")
    def reference(self, alert):
        return alert.submission.reference

    @admin.display(boolean=True, description="Acknowledged", ordering="acknowledged_at")
    def acknowledged(self, alert):
        return alert.acknowledged_at is not None

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            "notifications__clinician", "notifications__attempts")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: who did what, when; an admin change with each field before and after
    and a link to what was changed."""

    list_display = ("at", "actor", "action", "reference", "detail", "object_link")
    list_filter = ("action", "actor", "at")
    search_fields = ("reference", "actor__username", "detail")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "action", "reference", "detail", "object_link",
                       "change_table")
    fields = readonly_fields
    list_select_related = ("actor",)

    @admin.display(description="Changed object")
    def object_link(self, event):
        return format_html('<a href="{}">Open it</a>', event.object_url) if event.object_url \
            else "—"

    @admin.display(description="Before and after")
    def change_table(self, event):
        if not event.changes:
            return "No field changes recorded."
        rows = format_html_join(
            "", '<tr><th scope="row">{}</th><td class="audit-before">{}</td>'
                '<td class="audit-after">{}</td></tr>',
            ((" ".join(part for part in (change.get("what", ""), change.get("field", ""))
                       if part) or "—", change.get("before", ""), change.get("after", ""))
             for change in event.changes),
        )
        return format_html(
            '<table class="audit-diff"><thead><tr><th scope="col">What</th>'
            '<th scope="col">Before</th><th scope="col">After</th></tr></thead>'
            "<tbody>{}</tbody></table>", rows)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and (
            request.user.is_superuser or request.user.has_perm("clinic.view_auditevent"))


# --- The developer and security tables: superusers only ---------------------------------------

# Users and groups, API tokens, sign-in lock-outs and authenticator devices mean nothing to a
# practice manager and are the keys to the service: whatever permissions a staff user holds,
# only a superuser sees them (and a task queue's tables, should one be installed).
SUPERUSER_ONLY_APPS = frozenset({"auth", "knox", "axes", "otp_totp", "otp_static", "otp_email",
                                 "django_celery_beat", "django_celery_results"})


class SuperuserOnlyAdmin:
    def has_module_permission(self, request):
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


def _superusers_only(site) -> None:
    """Re-register each developer or security table's admin with ``SuperuserOnlyAdmin`` mixed
    in (their apps come before this one in INSTALLED_APPS, so their admins are registered)."""
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label in SUPERUSER_ONLY_APPS and not isinstance(
            model_admin, SuperuserOnlyAdmin
        ):
            admin_class = type(model_admin)
            site.unregister(model)
            site.register(model, type(f"SuperuserOnly{admin_class.__name__}",
                                      (SuperuserOnlyAdmin, admin_class), {}))


_superusers_only(admin.site)
