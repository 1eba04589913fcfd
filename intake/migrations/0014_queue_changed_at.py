"""Issue 19: when what the queue shows of a case last changed, and the two indexes the polled
queue reads instead of its rows (the latest change at each clinic, the open cases at each).
Existing cases get the time of the migration: the first poll after it renders afresh anyway."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0013_welsh_and_urdu_translations_of_version_2"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="changed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now, editable=False,
                help_text="When what the queue shows of the case last changed."),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["clinic", "changed_at"], name="submission_changes"),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(condition=models.Q(("status", "open")), fields=["clinic"],
                               name="open_cases_by_clinic"),
        ),
    ]
