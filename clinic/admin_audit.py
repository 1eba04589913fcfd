"""Every change an admin makes is also an ``AuditEvent`` (who, what, when), alongside Django's
own admin log.  Mix ``AuditedAdmin`` into a ModelAdmin; admin actions that call a service
(publish, activate) record their own event with ``record_admin_change``."""

from clinic import audit
from clinic.models import AuditEvent


def record_admin_change(request, detail: str) -> None:
    audit.record(request.user, AuditEvent.Action.ADMIN_CHANGE, detail=detail)


class AuditedAdmin:
    def _describe(self, obj, verb: str, message="") -> str:
        what = f"{verb} {obj._meta.verbose_name} “{obj}” (id {obj.pk})"
        if isinstance(message, list) and message:
            changed = []
            for entry in message:
                for kind, value in entry.items():
                    fields = ", ".join(value.get("fields", []))
                    name = value.get("name", "")
                    changed.append(f"{kind} {name} {fields}".strip())
            what += ": " + "; ".join(changed)
        return what

    def log_addition(self, request, obj, message):
        record_admin_change(request, self._describe(obj, "added"))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        record_admin_change(request, self._describe(obj, "changed", message))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            record_admin_change(request, self._describe(obj, "deleted"))
        return super().log_deletions(request, queryset)
