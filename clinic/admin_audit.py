"""Every change an admin makes is also an ``AuditEvent`` (who, what, when), alongside Django's
own admin log.  Mix ``AuditedAdmin`` into a ModelAdmin; admin actions that call a service
(publish, activate) record their own event with ``record_admin_change``.

A change records each changed field with its value before and after, in words (the labels of
the form, a clinician's name rather than an id, times as HH:MM), for the object's own form and
for each row of its inlines, and a link to the object's admin page.  django-simple-history keeps
the full rows of the models that have it; this is the trail a practice manager reads."""

import datetime

from django.db import models
from django.urls import NoReverseMatch, reverse

from clinic import audit
from clinic.models import AuditEvent

# A long text (a question, an explanation) is kept whole up to this many characters.
SHOWN_LENGTH = 1000


def record_admin_change(request, detail: str, *, changes=(), object_url: str = "") -> None:
    audit.record(request.user, AuditEvent.Action.ADMIN_CHANGE, detail=detail, changes=changes,
                 object_url=object_url)


def shown(value) -> str:
    """A field's value as a person reads it."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat(sep=" ", timespec="minutes") if isinstance(
            value, datetime.datetime) else value.isoformat()
    if isinstance(value, models.QuerySet | list | tuple | set):
        return ", ".join(str(item) for item in value) or "(none)"
    return str(value)[:SHOWN_LENGTH]


def _initial(form, name):
    """What the field showed before the change, as the form would clean it."""
    field = form.fields[name]
    value = form.get_initial_for_field(field, name)
    try:
        return field.to_python(value) if not isinstance(value, list | tuple) else (
            field.clean(value) if value else [])
    except Exception:  # a value the field no longer accepts: show it as stored
        return value


def form_changes(form, what: str) -> list[dict]:
    """[{"what", "field", "before", "after"}] for each field of ``form`` that changed."""
    changes = []
    for name in form.changed_data:
        if name not in form.fields or name in ("DELETE", "position"):
            continue
        before, after = shown(_initial(form, name)), shown(form.cleaned_data.get(name))
        if before != after:
            changes.append({"what": what, "field": str(form.fields[name].label or name),
                            "before": before, "after": after})
    return changes


def change_rows(form, formsets, obj=None) -> list[dict]:
    """Every changed field of an admin page: the object's, then each inline row's (added and
    deleted rows named as such), and the rows of a row's ``nested_formsets``."""
    rows = form_changes(form, "") if form is not None else []
    for formset in formsets or ():
        name = str(formset.model._meta.verbose_name)
        for row in formset.forms:
            if not hasattr(row, "cleaned_data"):
                continue
            instance = row.instance
            if formset.can_delete and formset._should_delete_form(row):
                # (Deleting a row has already cleared its instance's pk.)
                if instance.pk is not None or row in formset.initial_forms:
                    rows.append({"what": f"{name} “{instance}”", "field": "",
                                 "before": "present", "after": "deleted"})
            elif row.has_changed():
                if instance.pk is None or row in formset.extra_forms:
                    rows.append({"what": f"{name} “{instance}”", "field": "",
                                 "before": "(none)", "after": "added"})
                else:
                    rows.extend(form_changes(row, f"{name} “{instance}”"))
            # A row's own rows edited inside it (a question's choices on its card).
            rows.extend(change_rows(None, getattr(row, "nested_formsets", ())))
    return rows


def admin_url(obj) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change",
                       args=[obj.pk])
    except NoReverseMatch:
        return ""


class AuditedAdmin:
    def _describe(self, obj, verb: str, changes=()) -> str:
        what = f"{verb} {obj._meta.verbose_name} “{obj}” (id {obj.pk})"
        if changes:
            what += ": " + "; ".join(
                " ".join(part for part in (change["what"], change["field"]) if part)
                + f": {change['before']} → {change['after']}"
                for change in changes
            )
        return what

    def construct_change_message(self, request, form, formsets, add=False):
        # The only place that has the form with its values before and after: kept on the
        # request for log_change, which Django calls next.
        if not add:
            request.audit_changes = change_rows(form, formsets)
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        record_admin_change(request, self._describe(obj, "added"), object_url=admin_url(obj))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        changes = getattr(request, "audit_changes", [])
        record_admin_change(request, self._describe(obj, "changed", changes), changes=changes,
                            object_url=admin_url(obj))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            record_admin_change(request, self._describe(obj, "deleted"))
        return super().log_deletions(request, queryset)
