"""Who may do what in the clinic.

Clinicians are the people who review the queue and acknowledge alerts.  A user is a clinician by
being in the "Clinicians" auth group (created by migration ``clinic.0003``), so an admin grants or
withdraws the role in the Django admin without a code change.  Superusers count as clinicians so
that the person who set the clinic up can always see what the clinicians see.
"""

CLINICIANS_GROUP = "Clinicians"
# Set on a request's user by ``confirm_clinician``: see there.
_CONFIRMED = "_confirmed_clinician"


def is_clinician(user, *, member: bool | None = None) -> bool:
    """True for an active, signed-in member of the Clinicians group, or a superuser.

    Accepts ``AnonymousUser`` (always False), so views can call it on ``request.user``.
    ``member``: whether the user is in the group, when it was read with the user (the API
    token's query): then the group is not asked again.
    """
    if getattr(user, _CONFIRMED, False):
        return True
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    if member is not None:
        return member
    return user.groups.filter(name=CLINICIANS_GROUP).exists()


def confirm_clinician(request) -> bool:
    """``is_clinician(request.user)``, and when it is true, noted on this request's user so
    that the services the view calls (each of which asks again, so that none can be called
    without the check) are answered without asking the database again.  The user object is
    made afresh for each request (``AuthenticationMiddleware``), so nothing outlives it."""
    return confirm(request.user)


def confirm(user, *, member: bool | None = None) -> bool:
    """``is_clinician(user)``, noted on ``user`` when true (see ``confirm_clinician``): only
    for a user object made for one request, such as the one an API token was read with."""
    if not is_clinician(user, member=member):
        return False
    setattr(user, _CONFIRMED, True)
    return True


# The practice manager's role in the admin (created, with its model permissions, by migration
# ``clinic.0015``): clinics, opening hours, the rota with its cover and leave, clinicians,
# appointments, questionnaires (drafts: a published version is frozen whatever the permission),
# rule sets (drafts; activating one stays the clinical safety officer's ``activate_ruleset``),
# alerts and the audit trail, read-only.  Not superuser: the developer and security tables (API
# tokens, sign-in lock-outs, authenticator devices, users and groups) are for superusers only.
PRACTICE_MANAGERS_GROUP = "Practice managers"

