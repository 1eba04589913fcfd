"""Version 2 of the upper back pain intake, exactly as ``shared/clinical/question-bank-v2.md``
sets it out.

Every version 1 question kept here has exactly its version 1 text, help text, choice labels and
choice values (see ``intake.default_questionnaire``); the new questions and the new choices of
version 1 questions use the patient-facing wording of the question bank.  ``pain_with_exertion``
is gone: ``pain_walking_or_stairs`` replaces it with a different meaning, so with a new code.
Version 1 said "about five minutes" for 28 questions always shown; version 2 always shows 39
(44 with every follow-up), so its introduction says ten.

This is frozen data, kept in ``intake/data/questionnaire-v2.json`` (read by
``intake.questionnaire_data``, which describes its shape): the migration that publishes it
(``0008_questionnaire_version_2``) reads it, so it must not change.  Admins change the
questionnaire by creating a new draft in the admin, never by editing that file.
"""

from intake.questionnaire_data import create_sections, load

_DATA = load("questionnaire-v2.json")
SLUG = _DATA["slug"]
TITLE = _DATA["title"]
INTRODUCTION = _DATA["introduction"]
SECTIONS = _DATA["sections"]


def create_version_2(Questionnaire, QuestionnaireVersion, Section, Question, Choice, *, number,
                     based_on):
    """Create version 2 from the data above as a draft numbered ``number`` whose ``based_on`` is
    ``based_on`` (the version it follows, or None), and return it; the caller publishes it.

    The questionnaire must exist.  Takes the model classes so that a data migration can pass its
    historical models.
    """
    questionnaire = Questionnaire.objects.get(slug=SLUG)
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=number, title=TITLE, introduction=INTRODUCTION,
        based_on=based_on,
    )
    create_sections(version, SECTIONS, Section, Question, Choice)
    return version
