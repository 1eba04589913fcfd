"""The clinical vignettes: each yields exactly its expected urgency and exactly its expected
flags, screened with the default rule set as ``migrate`` stored it in the database."""

import json
from pathlib import Path

import pytest

from screening.engine import screen
from screening.services import active_rule_set_for

VIGNETTES = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "vignettes.json").read_text()
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("vignette", VIGNETTES, ids=[v["id"] for v in VIGNETTES])
def test_vignette_gets_exactly_its_urgency_and_flags(vignette, version_1):
    result = screen(vignette["answers"], active_rule_set_for(version_1))

    assert result.urgency == vignette["expected_urgency"]
    assert sorted(result.flag_codes) == sorted(vignette["expected_flags"])
    assert not result.failed


def test_every_flag_carries_what_the_spec_says(version_1, default_rule_set):
    vignette = next(v for v in VIGNETTES if v["id"] == "d15")  # fever with numbness in the legs

    result = screen(vignette["answers"], active_rule_set_for(version_1))

    infection = result.flags[0]
    assert infection.code == "infection_with_neuro_signs"
    assert infection.category == "red_flag"
    assert infection.tier == "emergency"
    assert infection.explanation == ("fever with neurological symptoms: possible spinal "
                                     "infection or epidural abscess")
    assert infection.rule_set_version == 1
    assert infection.evidence == {"fever_chills": True, "numbness_tingling": ["legs_feet"],
                                  "weakness_or_clumsiness": False}
    assert result.rule_set_id == default_rule_set.pk
    assert result.rule_set_version == 1


def test_flags_are_most_urgent_first_then_by_code(version_1):
    vignette = next(v for v in VIGNETTES if v["id"] == "d22")

    result = screen(vignette["answers"], active_rule_set_for(version_1))

    assert result.flag_codes == ["malignancy_cluster", "cancer_history", "weight_loss"]
