"""Create the "Practice managers" auth group (core.roles.PRACTICE_MANAGERS_GROUP) with the model
permissions a practice manager needs in the admin, and nothing of the developer and security
tables.  docs/operations.md ("Who can do what in the admin") lists them in words."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Spelled out rather than imported: a migration must keep meaning what it meant when written.
PRACTICE_MANAGERS_GROUP = "Practice managers"

ALL = ("view", "add", "change", "delete")
PERMISSIONS = {
    "clinic": {
        "clinic": ("view", "change"),
        "openinghours": ALL,
        "dutyshift": ALL,
        "dutycover": ALL,
        "dutycontact": ALL,
        "leave": ALL,
        "clinician": ("view", "add", "change"),
        "notificationrule": ALL,
        "alert": ("view",),
        "auditevent": ("view",),
    },
    "intake": {
        "questionnaire": ("view", "add", "change"),
        "questionnaireversion": ALL,
        "section": ALL,
        "question": ALL,
        "choice": ALL,
        "appointment": ALL,
    },
    "screening": {
        "ruleset": ("view", "add", "change", "delete"),
        "rule": ALL,
        "derivedvalue": ("view", "add", "change", "delete"),
        "scoreitem": ALL,
        "freetextterm": ALL,
        "safetycase": ("view",),
    },
}


def create_practice_managers(apps, schema_editor):
    # On a fresh database the permissions are only made after all migrations (post_migrate):
    # make them now so that the group can be given them.
    for label in PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=PRACTICE_MANAGERS_GROUP)
    codenames = [
        (app_label, f"{action}_{model}")
        for app_label, models in PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    for app_label, codename in codenames:
        permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clinic", "0014_clinic_staff_and_review_window"),
        ("intake", "0010_appointments_and_invitations"),
        ("screening", "0006_seed_safety_cases"),
    ]

    # Unapplying keeps the group: deleting it would silently drop every manager's membership.
    operations = [migrations.RunPython(create_practice_managers, migrations.RunPython.noop)]
