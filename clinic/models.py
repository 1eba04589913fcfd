"""The clinic's own world: clinics and their opening hours.

(Clinicians, the duty rota and alerts join this module with the alerting work.)
"""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a time zone name; use one like Europe/London.",
            params={"value": value},
        )


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_timezone],
        help_text="The clinic's local time zone; opening hours and the duty rota follow it.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="The clinic that receives intakes from the patient form and the API.",
    )
    phone = models.CharField(max_length=40, blank=True, help_text="The clinic's phone number.")
    emergency_number = models.CharField(
        max_length=20,
        default="999",
        help_text="The number patients are told to call in an emergency.",
    )
    out_of_hours_number = models.CharField(
        max_length=20,
        default="111",
        help_text="The line patients are told to call for urgent advice when the clinic is closed.",
    )
    emergency_escalation_minutes = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Escalate an unacknowledged emergency alert after this many minutes.",
    )
    urgent_escalation_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Escalate an unacknowledged urgent alert after this many minutes.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_clinic",
                violation_error_message="Only one clinic can be the default.",
            ),
        ]

    def __str__(self):
        return self.name


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField(help_text="Local time the clinic opens.")
    closes = models.TimeField(help_text="Local time the clinic closes.")

    class Meta:
        ordering = ["clinic", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")),
                name="opening_hours_close_after_open",
                violation_error_message="The closing time must be after the opening time.",
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M} to {self.closes:%H:%M}"
