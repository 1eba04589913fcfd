"""The clinic admin: each clinic's details, hours and duty rota; clinicians; alerts with their
deliveries and escalations (read-only); and the audit trail (read-only)."""

import zoneinfo

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import AuditedAdmin
from clinic.models import (
    Alert,
    AuditEvent,
    Clinic,
    Clinician,
    DutyContact,
    DutyShift,
    Notification,
    OpeningHours,
)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    fields = ("weekday", "opens", "closes")
    extra = 0
    verbose_name = "opening hours"
    verbose_name_plural = (
        "Opening hours (local time; add a row for each day the clinic is open, or two rows for "
        "a day with a lunch break)"
    )

    def get_extra(self, request, obj=None, **kwargs):
        # A new clinic starts with its working week to fill in.
        return 5 if obj is None else 0


class DutyShiftInline(admin.TabularInline):
    model = DutyShift
    fields = ("weekday", "clinician", "starts", "ends")
    extra = 0
    verbose_name = "duty shift"
    verbose_name_plural = (
        "Duty rota: who is on duty each week (local time; leave the times empty to follow the "
        "opening hours that day)"
    )


class DutyContactInline(admin.TabularInline):
    model = DutyContact
    fields = ("role", "position", "clinician")
    extra = 0
    verbose_name = "backup or out-of-hours contact"
    verbose_name_plural = (
        "Backups (alerted in order when an alert is not acknowledged in time) and out-of-hours "
        "contacts (alerted at once when the clinic is closed)"
    )


@admin.register(Clinic)
class ClinicAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("name", "is_default", "phone", "timezone")
    list_display_links = ("name",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OpeningHoursInline, DutyShiftInline, DutyContactInline]
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
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            # A list to pick from rather than a name to spell right.
            return forms.TypedChoiceField(
                choices=[(name, name) for name in sorted(zoneinfo.available_timezones())],
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


@admin.register(Clinician)
class ClinicianAdmin(AuditedAdmin, SimpleHistoryAdmin):
    list_display = ("name", "email", "has_webhook", "is_active", "user")
    list_filter = ("is_active", "clinics")
    search_fields = ("name", "email")
    filter_horizontal = ("clinics",)
    fields = ("name", "user", "email", "webhook_url", "clinics", "is_active")
    # A webhook address typed without a scheme is taken as https://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(boolean=True, description="Webhook")
    def has_webhook(self, clinician):
        return bool(clinician.webhook_url)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the application writes and nobody edits: alerts, the audit trail."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NotificationInline(admin.TabularInline):
    model = Notification
    fields = ("level", "clinician", "status", "grouped", "created_at", "delivered_at",
              "deliveries")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Notifications and their delivery attempts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Delivery attempts")
    def deliveries(self, notification):
        return format_html_join(
            mark_safe("<br>"), "{} {}{}: {} {}",
            ((a.started_at.strftime("%H:%M:%S"), a.channel,
              " (digest)" if a.digest_token else "",
              a.get_outcome_display() or "no outcome (interrupted)", a.error)
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
    list_display = ("at", "actor", "action", "reference", "detail")
    list_filter = ("action", "actor", "at")
    search_fields = ("reference", "actor__username", "detail")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "action", "reference", "detail")
    fields = readonly_fields
    list_select_related = ("actor",)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and (
            request.user.is_superuser or request.user.has_perm("clinic.view_auditevent"))
