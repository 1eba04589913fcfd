"""Who may do what in the clinic.

Clinicians are the people who review the queue and acknowledge alerts.  A user is a clinician by
being in the "Clinicians" auth group (created by migration ``clinic.0003``), so an admin grants or
withdraws the role in the Django admin without a code change.  Superusers count as clinicians so
that the person who set the clinic up can always see what the clinicians see.
"""

CLINICIANS_GROUP = "Clinicians"


def is_clinician(user) -> bool:
    """True for an active, signed-in member of the Clinicians group, or a superuser.

    Accepts ``AnonymousUser`` (always False), so views can call it on ``request.user``.
    """
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=CLINICIANS_GROUP).exists()


# The practice manager's role in the admin (created, with its model permissions, by migration
# ``clinic.0015``): clinics, opening hours, the rota with its cover and leave, clinicians,
# appointments, questionnaires (drafts: a published version is frozen whatever the permission),
# rule sets (drafts; activating one stays the clinical safety officer's ``activate_ruleset``),
# alerts and the audit trail, read-only.  Not superuser: the developer and security tables (API
# tokens, sign-in lock-outs, authenticator devices, users and groups) are for superusers only.
PRACTICE_MANAGERS_GROUP = "Practice managers"

