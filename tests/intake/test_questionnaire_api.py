"""GET /api/questionnaires/current/ serves version 2 exactly as the question bank specifies,
and version 1 stays stored exactly as its question bank specified it.

The expected questionnaires are read from copies of shared/clinical/question-bank-v2.md and
question-bank.md (the public contract), not restated here, so the test fails if either drifts
from the other.
"""

import re
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data"
QUESTION_BANK = DATA / "question-bank-v2.md"
QUESTION_BANK_V1 = DATA / "question-bank.md"
ROW = re.compile(r"^\| (?:\*\*New\*\* )?`(?P<code>[a-z_0-9]+)` \| (?P<type>[a-z_]+)"
                 r"(?: \((?P<length>\d+)\))? \| (?P<required>yes|no) \|(?P<spec>[^|]*)\|")
SHOWN_WHEN_TRUE = re.compile(r"shown only when `([a-z_]+)` is true")
SHOWN_WHEN_CHOSEN = re.compile(r"shown only when `([a-z_0-9]+)` is in `([a-z_]+)`")


def question_bank(path=QUESTION_BANK) -> dict[str, dict]:
    questions = {}
    for line in path.read_text().splitlines():
        match = ROW.match(line)
        if not match:
            continue
        spec = match["spec"].strip()
        # A follow-up's choices come after its show-condition ("shown only when ... is true:").
        choices = re.sub(r"^shown only when [^:]*:?", "", spec)
        entry = {
            "type": match["type"],
            "required": match["required"] == "yes",
            "max_length": int(match["length"]) if match["length"] else None,
            "choices": re.findall(r"`([a-z_0-9]+)`", choices) if "choice" in match["type"]
            else [],
            "range": None,
            "enable_when": None,
        }
        if range_ := re.fullmatch(r"(\d+)\.\.(\d+)", spec):
            entry["range"] = (int(range_[1]), int(range_[2]))
        if condition := SHOWN_WHEN_TRUE.search(spec):
            entry["enable_when"] = {"question": condition[1], "answer": True}
        elif condition := SHOWN_WHEN_CHOSEN.search(spec):
            entry["enable_when"] = {"question": condition[2], "answer": condition[1]}
        questions[match["code"]] = entry
    return questions


@pytest.fixture
def served(client):
    response = client.get("/api/questionnaires/current/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    questions = {q["code"]: q for s in body["sections"] for q in s["questions"]}
    return body, questions


def test_question_bank_copy_is_parsed():
    bank = question_bank()
    assert len(bank) == 44
    assert bank["pain_radiates_to"]["choices"] == [
        "none", "neck", "jaw", "left_arm", "right_arm", "chest", "legs"]
    assert bank["cancer_details"]["enable_when"] == {"question": "history_of_cancer",
                                                    "answer": True}
    assert bank["weakness_details"]["choices"] == [
        "one_side_sudden", "both_legs", "walking_difficulty", "one_arm_or_hand", "one_leg",
        "clumsy_hands"]
    assert bank["pain_after_meals"]["enable_when"] == {"question": "pain_location",
                                                       "answer": "upper_abdomen"}
    assert bank["pain_location"]["choices"][-1] == "upper_abdomen"
    assert "pain_with_exertion" not in bank
    assert len(question_bank(QUESTION_BANK_V1)) == 30


@pytest.mark.django_db
def test_current_questionnaire_is_version_2_of_the_question_bank(served):
    body, questions = served
    assert body["version"] == 2
    assert body["questionnaire"] == "upper-back-pain"
    assert body["title"]
    bank = question_bank()
    assert list(questions) == list(bank), "same codes, in the question bank's order"
    for code, expected in bank.items():
        question = questions[code]
        assert question["type"] == expected["type"], code
        assert question["required"] is expected["required"], code
        assert [c["value"] for c in question["choices"]] == expected["choices"], code
        assert all(c["label"] for c in question["choices"]), code
        assert question["text"].strip(), code
        if expected["range"]:
            assert (question["min"], question["max"]) == expected["range"], code
        else:
            assert question["min"] is None and question["max"] is None, code
        assert question["max_length"] == expected["max_length"], code
        assert question["enable_when"] == expected["enable_when"], code


@pytest.mark.django_db
def test_version_1_stays_stored_as_its_question_bank_specified():
    """The submissions made on version 1 keep the version they were made on, unchanged."""
    from intake.models import QuestionnaireVersion

    version_1 = QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=1)
    stored = {
        q.code: (q.type, q.required, [c.value for c in q.choices.all()], q.max_length,
                 q.condition_question or None)
        for q in version_1.questions.order_by("section__position", "position")
    }
    assert version_1.is_published
    assert stored == {
        code: (expected["type"], expected["required"], expected["choices"],
               expected["max_length"],
               expected["enable_when"] and expected["enable_when"]["question"])
        for code, expected in question_bank(QUESTION_BANK_V1).items()
    }
    assert list(stored) == list(question_bank(QUESTION_BANK_V1))


@pytest.mark.django_db
def test_none_choices_are_exclusive(served):
    _, questions = served
    for code, question in questions.items():
        for choice in question["choices"]:
            assert choice["exclusive"] is (choice["value"] == "none"), (code, choice["value"])


@pytest.mark.django_db
def test_sections_follow_the_question_bank(served):
    body, _ = served
    assert [s["title"] for s in body["sections"]] == [
        "Your pain", "Other symptoms", "Your health and daily life"]


@pytest.mark.django_db
def test_no_published_version_is_a_json_404(client, settings):
    settings.INTAKE_QUESTIONNAIRE_SLUG = "never-published"
    response = client.get("/api/questionnaires/current/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_current_questionnaire_costs_a_fixed_number_of_queries(client, django_assert_num_queries):
    from intake import selectors

    selectors._loaded_versions.clear()
    with django_assert_num_queries(5):  # which version is current, then load it
        assert client.get("/api/questionnaires/current/").status_code == 200
    with django_assert_num_queries(1):  # a published version is kept once loaded
        assert client.get("/api/questionnaires/current/").status_code == 200
