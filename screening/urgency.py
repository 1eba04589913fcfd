"""Urgency: how soon a patient needs a clinician.  One type for the whole service.

A submission's urgency is the most urgent tier of the rules that fired on it, and ``routine``
when none did.  A rule's tier is an urgency other than routine (``Tier``).  Emergencies and
urgent cases page the duty clinician (``Urgency.pages``).  The members are strings, so they
compare equal to, and look up dictionaries like, the values stored in the database.
"""

from django.db import models


class Urgency(models.TextChoices):
    """Most urgent first."""

    EMERGENCY = "emergency", "Emergency"
    URGENT = "urgent", "Urgent"
    SOON = "soon", "Soon"
    ROUTINE = "routine", "Routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent; a lower rank is more urgent."""
        return RANK[self]

    @property
    def pages(self) -> bool:
        """Whether it alerts the duty clinician."""
        return self in PAGING


class Tier(models.TextChoices):
    """What a rule may give: an urgency other than routine."""

    EMERGENCY = Urgency.EMERGENCY.value, Urgency.EMERGENCY.label
    URGENT = Urgency.URGENT.value, Urgency.URGENT.label
    SOON = Urgency.SOON.value, Urgency.SOON.label


# Value -> rank, for plain strings as stored, most urgent 0.
RANK: dict[str, int] = {urgency.value: rank for rank, urgency in enumerate(Urgency)}
PAGING = frozenset({Urgency.EMERGENCY.value, Urgency.URGENT.value})
# What an alert's urgency may be.
PAGING_CHOICES = [(urgency.value, urgency.label) for urgency in Urgency if urgency in PAGING]

