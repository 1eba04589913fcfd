"""The clinic admin: each clinic's details, phone numbers, alert timings and opening hours."""

import zoneinfo

from django import forms
from django.contrib import admin

from clinic.models import Clinic, OpeningHours


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


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default", "phone", "timezone")
    list_display_links = ("name",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OpeningHoursInline]
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
