"""Fixtures for the screening tests: the default questionnaire and rule set as ``migrate``
created them, and submitting through the submission service.  The generator of valid answer
sets for the property tests is in tests/factories.py."""

import datetime
import itertools
from pathlib import Path

import pytest

from intake.models import QuestionnaireVersion, Submission
from intake.services.submissions import submit_intake
from screening import services
from screening.models import RuleSet
from tests import factories

DATA = Path(__file__).resolve().parent.parent / "data"
SLUG = "upper-back-pain"


@pytest.fixture
def version_1(db) -> QuestionnaireVersion:
    """The first questionnaire version (published by migrate, answered before version 2 was
    published, and kept so that those submissions stay readable)."""
    return QuestionnaireVersion.objects.get(questionnaire__slug=SLUG, number=1)


@pytest.fixture
def default_rule_set(db) -> RuleSet:
    """Rule set version 1, for questionnaire version 1: retired by migrate when it made rule
    set 2 active, kept so that the flags it raised can be explained."""
    return RuleSet.objects.get(questionnaire__slug=SLUG, version=1)


@pytest.fixture
def current_version(db) -> QuestionnaireVersion:
    """The questionnaire version patients answer now (version 2, published by migrate)."""
    return QuestionnaireVersion.objects.get(questionnaire__slug=SLUG, number=2)


@pytest.fixture
def current_rule_set(db) -> RuleSet:
    """The rule set migrate made active for the current questionnaire version (version 2)."""
    return RuleSet.objects.get(questionnaire__slug=SLUG, version=2)


@pytest.fixture(scope="session")
def installed_rule_sets_compiled(django_db_setup, django_db_blocker) -> tuple:
    """The rule sets ``migrate`` installs (version 1, retired; version 2, active), each compiled
    once for the session, from the database as ``migrate`` left it, before any test runs."""
    with django_db_blocker.unblock():
        services.clear_compiled_cache()
        compiled = tuple(services.compile_rule_set(rule_set) for rule_set in
                         RuleSet.objects.exclude(status=RuleSet.Status.DRAFT).order_by("version"))
        services.clear_compiled_cache()
    return compiled


@pytest.fixture(autouse=True)
def fresh_compiled_cache(installed_rule_sets_compiled):
    """Each test starts with nothing compiled but the rule sets ``migrate`` installs, so no test
    passes thanks to something another test compiled.  Those are compiled once for the session
    instead of once per test (compiling rule set version 2 takes about 0.4 s, and most of the
    tests here screen with it).  They cannot go stale: the ORM refuses any change to an active
    or retired rule set, and their cache keys hold their ids and creation times.  The tests of
    the cache itself start with it empty (``empty_compiled_cache``)."""
    services.clear_compiled_cache()
    for compiled in installed_rule_sets_compiled:
        services._compiled.put(compiled)
    yield
    services.clear_compiled_cache()


@pytest.fixture
def empty_compiled_cache(fresh_compiled_cache):
    """Nothing compiled at all when the test starts: for the tests of the cache itself."""
    services.clear_compiled_cache()


# --- Submissions, through the submission service ---------------------------------------------


@pytest.fixture
def submit(db, current_version):
    """``submit(answers)`` sends the answers through the submission service
    (``intake.services.submissions.submit_intake``), which screens them with the active rule
    set and stores the submission, its answers and its flags.  Answers are to the current
    version unless ``version=`` says otherwise; the patient is 40 on the submission date unless
    ``age=`` says otherwise; each submission is a minute after the one before, from
    5 January 2026 09:00 UTC."""
    numbers = itertools.count(1)
    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)

    def send(answers: dict, *, version=current_version, age: int = 40) -> Submission:
        number = next(numbers)
        submitted_at = start + datetime.timedelta(minutes=number)
        patient = factories.patient_aged(age, submitted_at.date(),
                                         full_name=f"Test Patient {number}")
        return submit_intake(patient=patient, answers=answers, version_number=version.number,
                             now=submitted_at).submission

    return send


@pytest.fixture
def routine_answers() -> dict:
    """Vignette v2-01 (current version): an office worker with ordinary mechanical pain;
    nothing fires, whatever the age."""
    return factories.routine_answers()
