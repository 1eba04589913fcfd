"""A dry run screens recent submissions with a rule set and reports what would change."""

import pytest

from screening.models import Rule
from screening.services import DOWN, FAILED, SAME, UP, create_draft_from, dry_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def submissions(submit, routine_answers):
    """Five submissions to the current version, screened with its active rule set when they
    were submitted."""
    return {
        "chest": submit({**routine_answers, "chest_pain": True}),  # emergency
        "numbness": submit({**routine_answers, "numbness_tingling": ["arms_hands"]}),  # soon
        "jaundice": submit({**routine_answers, "jaundice": True}),  # urgent
        "stressed": submit({**routine_answers, "stress_level": 9}),  # routine
        "routine": submit(routine_answers),  # routine
    }


def test_a_dry_run_reports_tier_changes_and_flags_added_and_removed(current_rule_set,
                                                                     submissions):
    draft = create_draft_from(current_rule_set)
    Rule.objects.filter(rule_set=draft, code="neuro_numbness").update(tier="urgent")
    Rule.objects.filter(rule_set=draft, code="jaundice").update(tier="soon")
    Rule.objects.filter(rule_set=draft, code="cardiac_chest_pain").update(enabled=False)
    Rule.objects.create(rule_set=draft, code="high_stress", category="red_flag", tier="soon",
                        condition="(stress_level ?? 0) >= 9", explanation="x")

    report = dry_run(draft, limit=100)

    rows = {row.reference: row for row in report.rows}
    assert [row.reference for row in report.rows] == [
        submissions[name].reference
        for name in ("routine", "stressed", "jaundice", "numbness", "chest")
    ]  # most recent first

    chest = rows[submissions["chest"].reference]
    assert (chest.current_urgency, chest.new_urgency, chest.change) == ("emergency", "routine",
                                                                        DOWN)
    assert (chest.added, chest.removed) == ((), ("cardiac_chest_pain",))
    numbness = rows[submissions["numbness"].reference]
    assert (numbness.current_urgency, numbness.new_urgency, numbness.change) == (
        "soon", "urgent", UP)
    assert (numbness.added, numbness.removed) == ((), ())
    jaundice = rows[submissions["jaundice"].reference]
    assert (jaundice.current_urgency, jaundice.new_urgency, jaundice.change) == (
        "urgent", "soon", DOWN)
    stressed = rows[submissions["stressed"].reference]
    assert (stressed.current_urgency, stressed.new_urgency, stressed.change) == (
        "routine", "soon", UP)
    assert stressed.added == ("high_stress",)
    routine = rows[submissions["routine"].reference]
    assert (routine.new_urgency, routine.change) == ("routine", SAME)

    assert report.counts == {UP: 2, DOWN: 2, SAME: 1, FAILED: 0}
    assert {row.reference for row in report.changed} == {
        submissions[name].reference for name in ("chest", "numbness", "jaundice", "stressed")
    }


def test_the_active_rule_set_reproduces_every_stored_decision(current_rule_set, submissions):
    report = dry_run(current_rule_set)

    assert report.counts == {UP: 0, DOWN: 0, SAME: 5, FAILED: 0}
    assert not report.changed


def test_a_dry_run_screens_only_the_most_recent_n(current_rule_set, submissions):
    report = dry_run(current_rule_set, limit=2)

    assert [row.reference for row in report.rows] == [submissions["routine"].reference,
                                                      submissions["stressed"].reference]


def test_a_submission_the_rule_set_cannot_screen_is_reported_not_skipped(
    current_rule_set, submissions
):
    draft = create_draft_from(current_rule_set)
    # Written past validation, as a raw edit could.
    Rule.objects.filter(rule_set=draft, code="fever").update(condition="fever_chils")

    report = dry_run(draft)

    assert report.counts[FAILED] == 5
    assert all("Unknown question code “fever_chils”" in row.error for row in report.rows)


def test_a_dry_run_with_no_submissions_is_empty(current_rule_set):
    report = dry_run(current_rule_set)

    assert report.rows == ()
    assert report.counts == {UP: 0, DOWN: 0, SAME: 0, FAILED: 0}
