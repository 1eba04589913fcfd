"""Issue 19: the configuration generation (``core.configuration``), so that each process keeps
what a submission reads about its clinic and reads it again only after a change.

On PostgreSQL: the table with its one number, and a trigger on every table that read depends
on (the clinic, its opening hours, the questionnaire and its versions, the rule sets) that adds
one to it in the transaction of any change.  Nothing on SQLite, where every submission reads
its clinic.
"""

from django.db import migrations

from core import configuration

WATCHED = ["clinic_clinic", "clinic_openinghours", "intake_questionnaire",
           "intake_questionnaireversion", "screening_ruleset"]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in configuration.install_sql():
        schema_editor.execute(statement)
    for table in WATCHED:
        schema_editor.execute(configuration.watch(table))


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in WATCHED:
        schema_editor.execute(configuration.unwatch(table))
    for statement in configuration.uninstall_sql():
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("intake", "0015_answers_in_one_document"),
        ("clinic", "0017_claim_token_help_text"),
        ("screening", "0006_seed_safety_cases"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
