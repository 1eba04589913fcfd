"""Every kind of bad answer is refused with a message naming it; good answers come back clean."""

import datetime

import pytest

from intake.models import Submission
from intake.selectors import VersionSchema, current_version
from intake.services.answers import AnswersInvalid, clean_answers
from intake.services.patients import PatientInvalid, clean_patient
from tests.factories import PATIENT, ROUTINE

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    return VersionSchema.of(current_version())


def errors_for(schema, **changes):
    answers = {**ROUTINE, **changes}
    answers = {k: v for k, v in answers.items() if v is not ...}
    with pytest.raises(AnswersInvalid) as raised:
        clean_answers(schema, answers)
    return raised.value.errors


def test_valid_answers_come_back_clean(schema):
    assert clean_answers(schema, ROUTINE) == ROUTINE


def test_optional_answers_may_be_left_out_or_empty(schema):
    answers = {**ROUTINE, "pain_character": [], "other_information": "   ",
               "stress_level": None}
    del answers["daily_posture"]
    cleaned = clean_answers(schema, answers)
    assert "pain_character" not in cleaned
    assert "other_information" not in cleaned
    assert "stress_level" not in cleaned


def test_every_problem_is_reported_at_once(schema):
    errors = errors_for(schema, pain_severity=11, chest_pain="yes", sex="robot",
                        pain_radiates_to=["none", "jaw"], mystery=1, pain_duration=...)
    assert set(errors) == {"pain_severity", "chest_pain", "sex", "pain_radiates_to", "mystery",
                           "pain_duration"}
    assert errors["pain_severity"] == ["Must be between 0 and 10."]
    assert errors["pain_duration"] == ["This question needs an answer."]
    assert "no question with this code" in errors["mystery"][0]


@pytest.mark.parametrize("value", [True, False, 4.0, 4.5, "4", None, [4], {"v": 4}])
def test_an_integer_must_be_a_whole_number_not_a_boolean_string_or_float(schema, value):
    if value is None:
        assert errors_for(schema, pain_severity=value) == {
            "pain_severity": ["This question needs an answer."]}
    else:
        assert errors_for(schema, pain_severity=value) == {
            "pain_severity": ["Enter a whole number between 0 and 10."]}


@pytest.mark.parametrize("value", [-1, 11, 10**30])
def test_an_integer_must_be_in_range(schema, value):
    assert errors_for(schema, pain_severity=value) == {
        "pain_severity": ["Must be between 0 and 10."]}


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", ["true"], {}])
def test_a_boolean_must_be_true_or_false(schema, value):
    assert "true or false" in errors_for(schema, chest_pain=value)["chest_pain"][0]


@pytest.mark.parametrize("value", ["MALE", "", ["male"], 1, {"value": "male"}])
def test_a_single_choice_must_be_an_offered_value(schema, value):
    errors = errors_for(schema, sex=value)
    assert list(errors) == ["sex"]


@pytest.mark.parametrize("value, message", [
    (["none", "jaw"], "“none” cannot be chosen together with other answers."),
    (["jaw", "jaw"], "Each choice may be given only once."),
    (["elbow"], "Not among the choices"),
    ("jaw", "Send a list of choices"),
    ([["jaw"]], "Send a list of choices"),
    ([None], "Send a list of choices"),
    ([], "This question needs an answer."),
])
def test_a_multi_choice_must_be_a_list_of_distinct_offered_values(schema, value, message):
    assert message in errors_for(schema, pain_radiates_to=value)["pain_radiates_to"][0]


def test_multi_choice_answers_are_stored_in_the_questionnaires_order(schema):
    cleaned = clean_answers(schema, {**ROUTINE, "pain_radiates_to": ["legs", "jaw"]})
    assert cleaned["pain_radiates_to"] == ["jaw", "legs"]


def test_text_is_limited_and_cleaned(schema):
    assert "2000 characters" in errors_for(
        schema, other_information="x" * 2001)["other_information"][0]
    assert "control characters" in errors_for(
        schema, other_information="nul\x00byte")["other_information"][0]
    assert "not valid text" in errors_for(
        schema, other_information="lone \ud800 surrogate")["other_information"][0]
    assert errors_for(schema, other_information=42) == {"other_information": ["Send text."]}
    cleaned = clean_answers(schema, {**ROUTINE, "other_information": "  two\nlines\t "})
    assert cleaned["other_information"] == "two\nlines"


def test_a_conditional_answer_is_refused_when_its_condition_is_false(schema):
    errors = errors_for(schema, history_of_cancer=False, cancer_details="Breast, 2015")
    assert errors == {"cancer_details": [
        "Answer this only when the answer to “history_of_cancer” is yes; leave it out "
        "otherwise."]}


def test_a_conditional_answer_is_kept_when_its_condition_holds(schema):
    cleaned = clean_answers(schema, {**ROUTINE, "history_of_cancer": True,
                                     "cancer_details": "Breast, 2015"})
    assert cleaned["cancer_details"] == "Breast, 2015"


def test_a_conditional_question_is_never_required(schema):
    assert "trauma_details" not in clean_answers(schema, {**ROUTINE, "recent_trauma": True})


@pytest.mark.parametrize("raw", [None, [], "answers", 3])
def test_answers_must_be_an_object(schema, raw):
    with pytest.raises(AnswersInvalid) as raised:
        clean_answers(schema, raw)
    assert "object" in raised.value.errors["non_field_errors"][0]


def test_valid_patient_details_are_cleaned():
    patient = clean_patient({**PATIENT, "full_name": "  Ada   Example ", "email": ""})
    assert patient.full_name == "Ada Example"
    assert patient.date_of_birth == datetime.date(1971, 3, 2)
    assert patient.email == ""


# Each is refused, by the field it is in, with these words in its message.  Beyond the plain
# mistakes: emoji, control characters, a lone surrogate, padding, day zero and 29 February of a
# common year, trailing text, another script's digits, tabs and spaces.
BAD_PATIENT_DETAILS = {
    "full_name": {
        "Enter your full name.": ["", None],
        "as text": [7],
        "200 characters": ["x" * 201, "Ada" + " " * 198],
        "in letters": ["😀"],
        "control characters": ["Ada\x85\x9b"],
        "not valid text": ["Ada \ud83d"],
    },
    "date_of_birth": {
        "does not exist": ["1971-02-30", "2023-02-29"],
        "year-month-day": ["02/03/1971", "19710302", 1971, "1971-03-02\n", "1971-03-02T10:00",
                           "١٩٧١-٠٣-٠٢"],
        "future": ["2999-01-01"],
        "Check the year": ["1800-01-01"],
        "check the day, month and year": ["0000-01-01"],
    },
    "phone": {
        "phone number": ["call me", "123", "+44\t7700 900123", "07700 CALLME"],
        "Enter a phone number": [""],
    },
    "email": {
        "email address": ["not-an-email", "ada@exa mple.org"],
        "as text": [["a@b.org"]],
    },
}


@pytest.mark.parametrize("field, value, message", [
    (field, value, message) for field, refusals in BAD_PATIENT_DETAILS.items()
    for message, values in refusals.items() for value in values
])
def test_bad_patient_details_are_named(field, value, message):
    with pytest.raises(PatientInvalid) as raised:
        clean_patient({**PATIENT, field: value})
    assert list(raised.value.errors) == [field]
    assert message in raised.value.errors[field][0]


def test_unknown_patient_fields_are_refused():
    with pytest.raises(PatientInvalid) as raised:
        clean_patient({**PATIENT, "nhs_number": "123"})
    assert "Unknown field" in raised.value.errors["nhs_number"][0]


def test_c1_controls_are_refused_in_text_answers(schema):
    for control in ("\x80", "\x9b", "\x1b"):
        errors = errors_for(schema, other_information=f"before{control}after")
        assert errors == {"other_information": [
            "Remove the control characters from this answer."]}


def test_unknown_codes_are_shown_printable_and_counted_past_twenty(schema):
    junk = {f"junk_{i}\u202e": 1 for i in range(25)}
    with pytest.raises(AnswersInvalid) as raised:
        clean_answers(schema, {**ROUTINE, **junk, "\ud800": 1})
    errors = raised.value.errors
    assert "junk_0\ufffd" in errors
    assert all(key.isprintable() for key in errors)
    assert len(errors) == 21
    assert errors["non_field_errors"][0].startswith("6 more keys are not question codes")


def test_a_choice_value_is_quoted_back_printable(schema):
    errors = errors_for(schema, sex="\u202eelam\x00")
    assert errors["sex"][0].startswith("“\ufffdelam\ufffd” is not one of the choices")


@pytest.mark.parametrize("name, cleaned", [
    ("Zoe\u0308", "Zoë"),                         # combining mark: stored composed (NFC)
    ("\u200fשרה", "\u200fשרה"),                   # a right-to-left mark is kept
    ("Ada\u2028Example", "Ada Example"),          # a line separator is white space
])
def test_names_in_any_script_are_accepted_and_normalised(name, cleaned):
    assert clean_patient({**PATIENT, "full_name": name}).full_name == cleaned




def test_a_leap_day_that_exists_is_a_date_of_birth():
    assert clean_patient({**PATIENT, "date_of_birth": "2024-02-29"}).date_of_birth == (
        datetime.date(2024, 2, 29))


# --- Characters that change what is shown ----------------------------------------------------

HIDDEN = [
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2067", "U+2067 RIGHT-TO-LEFT ISOLATE"),
    ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("\ue000", "U+E000"),
]


@pytest.mark.parametrize("character, named", HIDDEN)
@pytest.mark.parametrize("field", ["full_name", "phone", "email"])
def test_bidi_overrides_zero_width_and_private_use_characters_are_refused_in_details(
        field, character, named):
    value = {"full_name": "Ada {} Example", "phone": "07700 {}900123",
             "email": "ada{}@example.org"}[field].format(character)
    with pytest.raises(PatientInvalid) as refused:
        clean_patient({**PATIENT, field: value})
    message = refused.value.errors[field][0]
    assert named in message and message.startswith("Remove ")


@pytest.mark.parametrize("character, named", HIDDEN)
def test_bidi_overrides_zero_width_and_private_use_characters_are_refused_in_free_text(
        character, named):
    schema = VersionSchema.of(current_version())
    answers = {**ROUTINE, "recent_trauma": True,
               "trauma_details": f"Fell off a ladder{character} at work"}
    with pytest.raises(AnswersInvalid) as refused:
        clean_answers(schema, answers)
    assert named in refused.value.errors["trauma_details"][0]


@pytest.mark.parametrize("name", [
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: a non-joiner between letters
    "\u0915\u094d\u200d\u0937",                          # Devanagari: a joiner between letters
])
def test_joiners_that_shape_a_word_in_its_script_are_kept(name):
    assert clean_patient({**PATIENT, "full_name": name}).full_name == name


def test_a_queue_row_cannot_be_reordered_through_the_api(client):
    """The finding: a name with a right-to-left override was stored and shown reversed."""
    import json

    response = client.post("/api/submissions/", content_type="application/json", data=json.dumps(
        {"patient": {**PATIENT, "full_name": "Ada \u202eelpmaxE"}, "answers": ROUTINE}))
    assert response.status_code == 400
    assert "RIGHT-TO-LEFT OVERRIDE" in response.json()["patient"]["full_name"][0]
    assert not Submission.objects.exists()
