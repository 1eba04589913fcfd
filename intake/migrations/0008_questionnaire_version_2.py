"""Publish version 2 of the default questionnaire (``intake.default_questionnaire_v2``).

A fresh install (0002 has just published version 1) and an upgraded one end in the same state:
version 2 published, based on the latest published version, and current.  Nothing happens when
the default questionnaire does not exist (an install that deleted or never had it), or when
version 2 is already there.

"Already there" means a published version of the questionnaire that has both the
``pain_walking_or_stairs`` and the ``heart_conditions`` questions: both are new in version 2 and
neither code exists in version 1, so such a version was built from this data (or from a copy of
it, published by the admins).  That makes the migration idempotent: migrating back past it
(whose reverse does nothing) and forward again publishes nothing new.
"""

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

from intake import default_questionnaire_v2


def publish_version_2(apps, schema_editor):
    Questionnaire = apps.get_model("intake", "Questionnaire")
    QuestionnaireVersion = apps.get_model("intake", "QuestionnaireVersion")
    models = [Questionnaire, QuestionnaireVersion, apps.get_model("intake", "Section"),
              apps.get_model("intake", "Question"), apps.get_model("intake", "Choice")]
    questionnaire = Questionnaire.objects.filter(slug=default_questionnaire_v2.SLUG).first()
    if questionnaire is None:
        return
    versions = QuestionnaireVersion.objects.filter(questionnaire=questionnaire)
    published = versions.filter(status="published")
    # Two filter() calls on the reverse relation: one version must have both questions.
    if published.filter(questions__code="pain_walking_or_stairs").filter(
        questions__code="heart_conditions"
    ).exists():
        return
    # Normally 2.  An install whose admins already made drafts or versions of their own gets the
    # next free number (3, 4, ...), after theirs; its drafts stay drafts.
    latest = versions.aggregate(latest=Max("number"))["latest"] or 0
    based_on = published.order_by("-number").first()
    version = default_questionnaire_v2.create_version_2(
        *models, number=latest + 1, based_on=based_on
    )
    # Created as a draft, then published with one UPDATE, as publish_version does: a published
    # version's contents cannot be added to afterwards.  (Historical models have neither the
    # PublishedVersionGuard save() nor the guarded querysets, but this order is right anyway.)
    QuestionnaireVersion.objects.filter(pk=version.pk, status="draft").update(
        status="published", published_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("intake", "0007_choice_values_may_start_with_a_digit")]

    operations = [migrations.RunPython(publish_version_2, migrations.RunPython.noop)]
