"""Compiled rule sets are cached, but a changed draft is never evaluated with stale
conditions: the cache key is a hash of everything that goes into a compiled rule set."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intake.models import Question
from intake.services.questionnaires import create_draft_from as create_questionnaire_draft
from screening import services
from screening.activation import activate_rule_set
from screening.engine import screen
from screening.models import Rule
from screening.services import (
    active_rule_set_for,
    compile_rule_set,
    create_draft_from,
    dry_run,
)
from tests.factories import facts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_compiled_cache")]


def test_the_active_rule_set_is_compiled_once(current_version):
    first = active_rule_set_for(current_version)

    with CaptureQueriesContext(connection) as queries:
        again = active_rule_set_for(current_version)

    assert again is first
    # Active and published, so neither can change: finding the active set is the only query.
    assert len(queries) == 1


def test_a_draft_is_looked_up_by_its_content(current_rule_set):
    draft = create_draft_from(current_rule_set)
    first = compile_rule_set(draft)

    with CaptureQueriesContext(connection) as queries:
        again = compile_rule_set(draft)

    assert again is first
    # Its enabled rules, derived values, their score items (prefetched: rule set version 2
    # has scores) and free-text terms, the questions and their choices; no parsing.
    assert len(queries) == 6


def test_a_retired_rule_set_keeps_its_compiled_rules(current_rule_set, current_version,
                                                     admin_user):
    compiled = compile_rule_set(current_rule_set, current_version)
    draft = create_draft_from(current_rule_set)
    activate_rule_set(draft, by=admin_user, reason="The same rules again.")
    current_rule_set.refresh_from_db()

    assert compile_rule_set(current_rule_set, current_version) is compiled
    assert active_rule_set_for(current_version).version == 3


def test_a_changed_condition_is_recompiled(current_rule_set, routine_answers):
    draft = create_draft_from(current_rule_set)
    assert screen(routine_answers, compile_rule_set(draft), facts()).urgency == "routine"

    rule = draft.rules.get(code="neuro_numbness")
    rule.condition = "pain_severity >= 4"
    rule.save()

    result = screen(routine_answers, compile_rule_set(draft), facts())
    assert (result.urgency, result.flag_codes) == ("soon", ["neuro_numbness"])


@pytest.mark.parametrize(("field", "value", "seen"), [
    ("tier", "emergency", lambda r: r.urgency == "emergency"),
    ("category", "nerve", lambda r: r.flags[0].category == "nerve"),
    ("explanation", "new words", lambda r: r.flags[0].explanation == "new words"),
])
def test_every_field_of_a_rule_is_part_of_the_key(current_rule_set, routine_answers, field,
                                                  value, seen):
    draft = create_draft_from(current_rule_set)
    Rule.objects.filter(rule_set=draft, code="night_sweats").update(condition="not chest_pain")
    assert screen(routine_answers, compile_rule_set(draft), facts()).flag_codes == ["night_sweats"]

    Rule.objects.filter(rule_set=draft, code="night_sweats").update(**{field: value})

    assert seen(screen(routine_answers, compile_rule_set(draft), facts()))


def test_switching_a_rule_off_or_on_is_seen(current_rule_set, routine_answers):
    draft = create_draft_from(current_rule_set)
    answers = {**routine_answers, "jaundice": True}
    Rule.objects.filter(rule_set=draft, code="jaundice").update(enabled=False)
    assert screen(answers, compile_rule_set(draft), facts()).flag_codes == []

    Rule.objects.filter(rule_set=draft, code="jaundice").update(enabled=True)

    assert screen(answers, compile_rule_set(draft), facts()).flag_codes == ["jaundice"]


def test_a_changed_questionnaire_version_is_seen(current_rule_set, current_version):
    new_version = create_questionnaire_draft(current_version)
    draft = create_draft_from(current_rule_set, questionnaire_version=new_version)
    compile_rule_set(draft)

    Question.objects.get(version=new_version, code="jaundice").delete()

    with pytest.raises(services.RuleSetInvalid, match="“jaundice”"):
        compile_rule_set(draft)


def test_a_dry_run_after_an_edit_uses_the_edit(current_rule_set, submit, routine_answers):
    submit(routine_answers)
    draft = create_draft_from(current_rule_set)
    assert dry_run(draft).counts["same"] == 1

    Rule.objects.filter(rule_set=draft, code="progressive_pain").update(
        condition="pain_severity >= 0", tier="urgent"
    )

    assert dry_run(draft).counts["up"] == 1


def test_the_cache_is_bounded(current_rule_set, monkeypatch):
    monkeypatch.setattr(services._compiled, "size", 4)  # the bound, not its size, is the point
    draft = create_draft_from(current_rule_set)
    for number in range(services._compiled.size + 5):
        Rule.objects.filter(rule_set=draft, code="fever").update(explanation=str(number))
        compile_rule_set(draft)

    assert len(services._compiled) == services._compiled.size
