"""Fixtures for the screening tests: the default questionnaire and rule set as ``migrate``
created them, a generator of valid answer sets, and a way to store submissions the way the
submission service does."""

import datetime
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import strategies as st

from clinic.models import Clinic
from intake.models import Answer, Question, QuestionnaireVersion, Submission
from screening import services
from screening.models import RuleSet
from tests import factories
from tests.factories import date_of_birth_for

DATA = Path(__file__).resolve().parent.parent / "data"
SLUG = "upper-back-pain"


@pytest.fixture
def version_1(db) -> QuestionnaireVersion:
    return QuestionnaireVersion.objects.get(questionnaire__slug=SLUG, number=1)


@pytest.fixture
def default_rule_set(db) -> RuleSet:
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


# --- Answer sets for property tests ---------------------------------------------------------


@dataclass(frozen=True)
class QuestionShape:
    """What a valid answer to one question looks like."""

    code: str
    type: str
    required: bool
    choices: tuple[str, ...]
    exclusive: tuple[str, ...]
    min_value: int | None
    max_value: int | None
    max_length: int | None
    condition: tuple[str, bool | str] | None


def question_shapes(version) -> tuple[QuestionShape, ...]:
    shapes = []
    for q in (Question.objects.filter(version=version).prefetch_related("choices")
              .order_by("section__position", "position")):
        condition = None
        if q.condition_question:
            answer = q.condition_answer
            condition = (q.condition_question,
                         answer == "true" if answer in ("true", "false") else answer)
        choices = list(q.choices.all())
        shapes.append(QuestionShape(
            code=q.code, type=q.type, required=q.required and not condition,
            choices=tuple(c.value for c in choices),
            exclusive=tuple(c.value for c in choices if c.is_exclusive),
            min_value=q.min_value, max_value=q.max_value, max_length=q.max_length,
            condition=condition,
        ))
    return tuple(shapes)


def answer_strategy(shape: QuestionShape):
    if shape.type == Question.Type.BOOLEAN:
        return st.booleans()
    if shape.type == Question.Type.INTEGER:
        return st.integers(shape.min_value, shape.max_value)
    if shape.type == Question.Type.SINGLE_CHOICE:
        return st.sampled_from(shape.choices)
    if shape.type == Question.Type.MULTI_CHOICE:
        ordinary = [c for c in shape.choices if c not in shape.exclusive]
        some = st.lists(st.sampled_from(ordinary), min_size=1, unique=True)
        return st.one_of(some, *(st.just([e]) for e in shape.exclusive))
    return st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs")),
        min_size=1, max_size=min(shape.max_length or 40, 40),
    )


def condition_holds(shape: QuestionShape, answers: dict) -> bool:
    """Whether a question shown on a condition is shown: the answer it depends on is the one
    named, or, for a several-choices question, includes it."""
    target, expected = shape.condition
    given = answers.get(target)
    return expected in given if isinstance(given, list) else given == expected


def valid_answers(shapes: tuple[QuestionShape, ...]):
    """Answer sets the intake would accept: types and ranges respected, every required question
    answered, an exclusive choice ('none') only on its own, a question shown on a condition
    answered only when its condition holds, optional questions sometimes left out."""

    @st.composite
    def build(draw):
        answers = {}
        for shape in shapes:
            if shape.condition is not None and not condition_holds(shape, answers):
                continue
            if shape.required or draw(st.booleans()):
                answers[shape.code] = draw(answer_strategy(shape))
        return answers

    return build()


# --- Storing submissions as the submission service does -------------------------------------


@pytest.fixture
def submit(db, current_version):
    """``submit(answers)`` screens the answers with the active rule set and stores the
    submission, its answers and its flags, as ``intake.services.submissions`` does.  Answers
    are to the current version unless ``version=`` says otherwise; the patient is 40 on the
    submission date unless ``age=`` says otherwise."""
    clinic = Clinic.objects.get(is_default=True)
    numbers = itertools.count(1)
    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)

    def store(answers: dict, *, version=current_version, age: int = 40) -> Submission:
        questions = {q.code: q for q in version.questions.all()}
        number = next(numbers)
        submitted_at = start + datetime.timedelta(minutes=number)
        submission = Submission(
            reference=f"T{number:05d}",
            clinic=clinic,
            questionnaire_version=version,
            full_name=f"Test Patient {number}",
            date_of_birth=date_of_birth_for(age, submitted_at.date()),
            phone="+44 7700 900000",
            submitted_at=submitted_at,
        )
        result = services.screen_answers(version, answers, services.facts_of(submission))
        submission.urgency = result.urgency
        submission.screening_failed = result.failed
        submission.save()
        Answer.objects.bulk_create(
            Answer(submission=submission, question=questions[code], question_code=code,
                   question_text=questions[code].text, value=value)
            for code, value in answers.items()
        )
        services.record_flags(submission, result)
        return submission

    return store


@pytest.fixture
def routine_answers() -> dict:
    """Vignette v2-01 (current version): an office worker with ordinary mechanical pain;
    nothing fires, whatever the age."""
    return factories.routine_answers()
