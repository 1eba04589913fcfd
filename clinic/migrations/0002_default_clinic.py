import datetime

from django.db import migrations

WEEKDAYS = range(5)  # Monday to Friday


def create_default_clinic(apps, schema_editor):
    Clinic = apps.get_model("clinic", "Clinic")
    OpeningHours = apps.get_model("clinic", "OpeningHours")
    if Clinic.objects.exists():
        return
    clinic = Clinic.objects.create(
        name="Bedford", slug="bedford", timezone="Europe/London", is_default=True
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=datetime.time(9), closes=datetime.time(17))
        for day in WEEKDAYS
    )


class Migration(migrations.Migration):
    dependencies = [("clinic", "0001_initial")]

    operations = [migrations.RunPython(create_default_clinic, migrations.RunPython.noop)]
