"""Recording who looked at or acted on a case.  Every access to a case goes through here."""

from clinic.models import AuditEvent


def record(actor, action: str, *, submission=None, detail: str = "", changes=(),
           object_url: str = "") -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor, action=action, submission=submission,
        reference=submission.reference if submission is not None else "", detail=detail[:500],
        changes=list(changes), object_url=object_url[:300],
    )
