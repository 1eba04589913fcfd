"""Create the "Clinicians" auth group that ``core.roles`` checks membership of."""

from django.db import migrations

# Spelled out rather than imported from core.roles: a migration must keep meaning what it meant
# when it was written, even if the constant is renamed later.
CLINICIANS_GROUP = "Clinicians"


def create_clinicians_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=CLINICIANS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinic", "0002_default_clinic"),
    ]

    # Unapplying keeps the group: deleting it would silently drop every clinician's membership.
    operations = [migrations.RunPython(create_clinicians_group, migrations.RunPython.noop)]
