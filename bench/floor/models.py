from django.db import models
from django.utils import timezone


class FloorRecord(models.Model):
    """One request body, stored as it came: the floor's whole job."""

    body = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"floor record {self.pk}"
