"""Version 1 of the upper back pain intake, exactly as ``shared/clinical/question-bank.md`` sets
it out, in patient-facing words written from the clinic's article.

This is frozen data, kept in ``intake/data/questionnaire-v1.json`` (read by
``intake.questionnaire_data``, which describes its shape): the migration that publishes it reads
it, so it must not change.  Admins change the questionnaire by creating a new draft in the admin,
never by editing that file.
"""

from intake.questionnaire_data import create_sections, load

_DATA = load("questionnaire-v1.json")
SLUG = _DATA["slug"]
NAME = _DATA["name"]
TITLE = _DATA["title"]
INTRODUCTION = _DATA["introduction"]
SECTIONS = _DATA["sections"]


def create_default_version(Questionnaire, QuestionnaireVersion, Section, Question, Choice):
    """Create version 1 as a draft from the data above; the caller publishes it.

    Takes the model classes so that a data migration can pass its historical models.
    """
    questionnaire, _ = Questionnaire.objects.get_or_create(slug=SLUG, defaults={"name": NAME})
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=1, title=TITLE, introduction=INTRODUCTION
    )
    create_sections(version, SECTIONS, Section, Question, Choice)
    return version
