"""The admin's appointments: made and changed one by one (each invites its patient, as one
made over REST does), imported from a booking system's CSV export with a preview that names
every row's problems, and the invitation's state with an unlock for a patient who mistyped
their date of birth too often.  A non-superuser sees the appointments of the clinics they
manage only (``intake.services.appointments.managed_clinics``)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_audit import AuditedAdmin, record_admin_change
from clinic.hours import local_time
from clinic.models import Clinic
from core.errors import Forbidden
from intake.models import Appointment
from intake.services import appointments, invitations

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", required=False,
        help_text="One appointment per row, with a first row naming the columns: "
        + ", ".join(appointments.CSV_COLUMNS) + ". Dates as 2026-12-07, times as "
        "2026-12-07 09:30 (the clinic's local time).")
    # The checked file, carried from the preview to the import.
    text = forms.CharField(widget=forms.HiddenInput, required=False)


@admin.register(Appointment)
class AppointmentAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("starts_local", "clinic", "external_id", "status", "intake_status")
    list_filter = ("clinic", "status", ("starts_at", admin.DateFieldListFilter))
    search_fields = ("external_id",)
    date_hierarchy = "starts_at"
    autocomplete_fields = ()
    readonly_fields = ("invitation_state",)
    fieldsets = [
        (None, {"fields": ("clinic", "starts_at", "practitioner", "status", "external_id")}),
        ("The patient", {"fields": ("full_name", "date_of_birth", "phone", "email"),
                         "description": "Filled in on their form for them; the date of birth "
                         "is what they must give to open it."}),
        ("Invitation", {"fields": ("invitation_state",)}),
    ]
    actions = ["unlock_invitations"]
    change_list_template = "admin/intake/appointment/change_list.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("clinic", "intake",
                                                                "invitation")
        return queryset.filter(clinic__in=self._clinics(request))

    def _clinics(self, request):
        try:
            return appointments.managed_clinics(request.user)
        except Forbidden:
            return Clinic.objects.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinic":
            kwargs["queryset"] = self._clinics(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        appointments.invite(obj)

    @admin.display(description="Starts", ordering="starts_at")
    def starts_local(self, appointment):
        return f"{local_time(appointment.clinic, appointment.starts_at):%a %d %b %Y, %H:%M}"

    @admin.display(description="Intake")
    def intake_status(self, appointment):
        intake = getattr(appointment, "intake", None)
        if intake is not None:
            return format_html('<a href="{}">{} ({})</a>',
                               reverse("case-detail", args=[intake.reference]),
                               intake.reference, intake.get_urgency_display())
        invitation = getattr(appointment, "invitation", None)
        if invitation is not None and invitation.locked_at:
            return "Locked: wrong dates of birth"
        return "Not done yet"

    @admin.display(description="State")
    def invitation_state(self, appointment):
        invitation = getattr(appointment, "invitation", None)
        if appointment.pk is None or invitation is None:
            return "Sent when the appointment is saved (by email, if it has an address)."
        parts = [f"Sent {invitation.sent_at:%d %b %Y %H:%M}" if invitation.sent_at
                 else "Not sent yet (no email address, or waiting for the mail server)"]
        if invitation.reminders_sent:
            parts.append(f"{invitation.reminders_sent} reminder(s) sent")
        if invitation.used_at:
            parts.append(f"form sent {invitation.used_at:%d %b %Y %H:%M}")
        if invitation.locked_at:
            parts.append(f"locked after {invitation.failed_checks} wrong dates of birth "
                         "(use the Unlock action in the list)")
        return format_html(
            "{}.<br>The patient's link, to read to them if they have no email (it works once, "
            "after their date of birth): <code>{}</code>", "; ".join(parts),
            invitations.link_of(invitation))

    @admin.action(description="Unlock the invitation (after a patient mistyped their date of "
                  "birth too often)", permissions=["change"])
    def unlock_invitations(self, request, queryset):
        unlocked = 0
        for appointment in queryset.filter(invitation__locked_at__isnull=False):
            appointments.unlock(appointment.invitation)
            record_admin_change(request, f"unlocked the invitation of appointment "
                                         f"{appointment.pk}")
            unlocked += 1
        self.message_user(request, f"{unlocked} invitation(s) unlocked.", messages.SUCCESS)

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view),
                     name="intake_appointment_import"), *super().get_urls()]

    def import_view(self, request):
        """Upload a CSV, see every row checked (and what is wrong with each), then import."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        text = ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload is not None:
                if upload.size > MAX_UPLOAD_BYTES:
                    form.add_error("file", "The file is over 2 MB: split it.")
                else:
                    try:
                        text = upload.read().decode("utf-8-sig")
                    except UnicodeDecodeError:
                        form.add_error("file", "Save the file as CSV with UTF-8 text.")
            else:
                text = form.cleaned_data["text"]
            if text and not form.errors:
                commit = "import" in request.POST and not upload
                report = appointments.import_csv(request.user, text, commit=commit)
                if commit and report.ok:
                    made = sum(row.action == "made" for row in report.rows)
                    record_admin_change(request, f"imported {len(report.rows)} appointments "
                                                 f"from a CSV ({made} new)")
                    self.message_user(request, f"{len(report.rows)} appointments imported "
                                      f"({made} new, {len(report.rows) - made} updated); "
                                      "their patients are being invited.", messages.SUCCESS)
                    return TemplateResponse(request, "admin/intake/appointment/import.html", {
                        **self._context(request), "form": ImportForm(), "done": report})
            elif not form.errors:
                form.add_error("file", "Choose a CSV file.")
        return TemplateResponse(request, "admin/intake/appointment/import.html", {
            **self._context(request), "form": form, "report": report,
            "confirm": ImportForm(initial={"text": text}) if report and report.ok else None,
        })

    def _context(self, request):
        return {**self.admin_site.each_context(request), "opts": self.opts,
                "title": "Import appointments from a CSV file",
                "columns": appointments.CSV_COLUMNS}
