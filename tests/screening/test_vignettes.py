"""Version 1's clinical vignettes, screened with rule set version 1 (retired by migrate when
version 2 became active, and kept): old results stay reproducible, flag by flag.  Version 2's
cases are in ``test_vignettes_v2.py``."""

import pytest

from screening.engine import screen
from screening.services import compile_rule_set
from tests.factories import vignette

pytestmark = pytest.mark.django_db


def test_every_flag_carries_what_the_spec_says(version_1, default_rule_set):
    case = vignette("d15")  # fever with numbness in the legs

    result = screen(case["answers"], compile_rule_set(default_rule_set, version_1))

    infection = result.flags[0]
    assert infection.code == "infection_with_neuro_signs"
    assert infection.category == "red_flag"
    assert infection.tier == "emergency"
    assert infection.explanation == ("fever with neurological symptoms: possible spinal "
                                     "infection or epidural abscess")
    assert infection.rule_set_version == 1
    # Only what made the condition true: the numbness, not the "no" to weakness beside it
    # (flags stored before version 2 keep the evidence they were stored with).
    assert infection.evidence == {"fever_chills": True, "numbness_tingling": ["legs_feet"]}
    assert result.rule_set_id == default_rule_set.pk
    assert result.rule_set_version == 1


def test_flags_are_most_urgent_first_then_by_code(version_1, default_rule_set):
    case = vignette("d22")

    result = screen(case["answers"], compile_rule_set(default_rule_set, version_1))

    assert result.flag_codes == ["malignancy_cluster", "cancer_history", "weight_loss"]
