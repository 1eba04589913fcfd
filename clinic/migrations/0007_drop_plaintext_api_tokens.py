"""API tokens moved to django-rest-knox (hashed, expiring): the old rest_framework.authtoken
table, which kept every token in plain text, is dropped with its tokens, and its app's migration
records with it (the app is no longer installed).  Clients ask for a new token once."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0006_data_lifecycle"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                "DROP TABLE IF EXISTS authtoken_token",
                "DELETE FROM django_migrations WHERE app = 'authtoken'",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
