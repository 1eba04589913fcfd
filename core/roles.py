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
