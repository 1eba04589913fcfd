"""Table constraints as the models declare them: one call each, naming the fields or the
condition, the constraint's name in the database and the message a person reads when a form or
the admin breaks it (Django's ``violation_error_message``).

They build Django's own ``UniqueConstraint`` and ``CheckConstraint`` and nothing else, so a
migration sees exactly what it would see written out."""

from django.db import models


def unique(*fields: str, name: str, when: models.Q | None = None,
           message: str | None = None) -> models.UniqueConstraint:
    """No two rows alike in ``fields`` (among the rows that match ``when``, if given)."""
    return models.UniqueConstraint(
        fields=fields, condition=when, name=name, violation_error_message=message
    )


def check(condition: models.Q, *, name: str, message: str | None = None) -> models.CheckConstraint:
    """Every row matches ``condition``."""
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=message)
