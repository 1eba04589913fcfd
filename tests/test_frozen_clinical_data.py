"""The frozen clinical data (``intake/data/questionnaire-v*.json``, read by
``intake.questionnaire_data``; ``screening/data/rules-v*.json``, read by
``screening.rule_set_data``): rule set 2 is the specification's, and no file changes.  (The
questionnaires are compared with the question banks as published, in
``tests/intake/test_questionnaire_api.py``.)

Rule set 2's rules are read from a copy of ``shared/clinical/triage-rules-v2.md``, not restated
here, so the test fails if the data drifts from the specification.
"""

import hashlib
import re
from pathlib import Path

import pytest

from intake.questionnaire_data import DATA as QUESTIONNAIRES
from screening import default_rules, default_rules_v2
from screening.rule_set_data import DATA as RULE_SETS

TRIAGE_RULES = Path(__file__).parent / "data" / "triage-rules-v2.md"
RULE_ROW = re.compile(
    r"^\| `(?P<code>[a-z_0-9]+)` \|[^|]*\| (?P<tier>[a-z]+) \| (?P<category>[a-z_]+) \|"
)


def specified_rules() -> list[tuple[str, str, str]]:
    """(code, tier, category) of each rule in the specification's "Rules" section, in order."""
    text = TRIAGE_RULES.read_text()
    section = text[text.index("\n## Rules\n"):text.index("\n## What every flag carries\n")]
    return [(row["code"], row["tier"], row["category"])
            for row in map(RULE_ROW.match, section.splitlines()) if row]


def test_rule_set_2_has_the_specifications_rules_in_its_order():
    assert [(code, tier, category) for code, _title, category, tier, _condition, _explanation
            in default_rules_v2.RULES] == specified_rules()
    assert len(default_rules_v2.RULES) == 63


def test_rule_set_2_has_the_specifications_free_text_groups():
    text = TRIAGE_RULES.read_text()
    for group, terms in default_rules_v2.FREE_TEXT_TERMS:
        assert group in text
        assert terms


# Published clinical data never changes: a new rule set or questionnaire version is a new file.
@pytest.mark.parametrize(("path", "sha256"), [
    (RULE_SETS / "rules-v1.json",
     "ec4031cb3d8dfa39fe3165e331045a755d11427ec64ca7fce2219aec0ce11bd8"),
    (RULE_SETS / "rules-v2.json",
     "e587b4103340155578b13cf8bcffced3578b1cc216357452ad1107d4e92f4410"),
    (QUESTIONNAIRES / "questionnaire-v1.json",
     "bc88d5744375ff24298b2e1904b24dc148673bbfc5adb90a4603175da68540c6"),
    (QUESTIONNAIRES / "questionnaire-v2.json",
     "55ce460f6b56aede673167f947bac946628b0ed61df2d69e329dbdfd3452b792"),
])
def test_published_clinical_data_never_changes(path, sha256):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_rule_set_1_keeps_its_24_rules():
    assert len(default_rules.RULES) == 24
