"""What attackers and clumsy REST clients send to the intake API, and what they get back.

Every bad request gets a 4xx with a JSON body that names the problem (the field, when there is
one); none gets a 500, and none leaves a partial record.  Good requests that merely look odd
(a charset parameter, a byte order mark, a name with combining accents or right-to-left marks)
are accepted.
"""

import json
import threading

import pytest
from django.db import connection

from intake.models import IdempotencyRecord, Submission
from tests.factories import PATIENT, ROUTINE

pytestmark = pytest.mark.django_db

URL = "/api/submissions/"
QUESTIONNAIRE_URL = "/api/questionnaires/current/"
GOOD = {"patient": PATIENT, "answers": ROUTINE}


def send(client, body, content_type="application/json", method="POST", path=URL, **headers):
    """Send ``body`` exactly: a dict or list is JSON-encoded, str is UTF-8, bytes as they are."""
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    return client.generic(method, path, data=body, content_type=content_type, headers=headers)


def with_patient(**changes):
    return {"patient": {**PATIENT, **changes}, "answers": ROUTINE}


def with_answers(**changes):
    return {"patient": PATIENT, "answers": {**ROUTINE, **changes}}


def refused(response, status=400):
    """The JSON body of an error response, after checking it is one."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict) and body
    return body


def nothing_stored():
    return not (Submission.objects.exists()
                or IdempotencyRecord.objects.exists())


def accepted(response):
    assert response.status_code == 201, response.content[:500]
    return Submission.objects.get(reference=response.json()["reference"])


# --- Content types and encodings ------------------------------------------------------------


class TestContentTypes:
    @pytest.mark.parametrize("content_type", [
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json;charset=utf8",
    ])
    def test_utf8_declared_in_any_spelling_is_accepted(self, client, content_type):
        accepted(send(client, GOOD, content_type=content_type))

    @pytest.mark.parametrize("charset", ["latin-1", "iso-8859-1", "utf-16", "windows-1252"])
    def test_another_declared_charset_is_415_naming_it(self, client, charset):
        body = refused(send(client, GOOD, content_type=f"application/json; charset={charset}"),
                       415)
        assert charset in body["detail"]
        assert "UTF-8" in body["detail"]
        assert nothing_stored()

    def test_a_leading_utf8_byte_order_mark_is_ignored(self, client):
        accepted(send(client, b"\xef\xbb\xbf" + json.dumps(GOOD).encode()))

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
    def test_a_utf16_or_utf32_body_is_400_saying_so(self, client, encoding):
        body = refused(send(client, json.dumps(GOOD).encode(encoding)))
        assert "UTF-16" in body["detail"]
        assert "UTF-8" in body["detail"]
        assert nothing_stored()

    def test_latin1_bytes_are_400_not_valid_utf8(self, client):
        body = refused(send(client, json.dumps(with_patient(full_name="José")).encode("latin-1")
                            .replace(b"\\u00e9", "é".encode("latin-1"))))
        assert "UTF-8" in body["detail"]

    @pytest.mark.parametrize(("content_type", "named"), [
        ("text/plain", "text/plain"),
        ("text/json", "text/json"),
        ("application/xml", "application/xml"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=xyz", "multipart/form-data"),
        ("application/octet-stream", "application/octet-stream"),
        ("", "no Content-Type"),
    ])
    def test_a_body_that_is_not_declared_json_is_415_saying_what_to_send(
            self, client, content_type, named):
        body = refused(send(client, GOOD, content_type=content_type), 415)
        assert named in body["detail"]
        assert "Content-Type: application/json" in body["detail"]
        assert nothing_stored()

    def test_a_real_multipart_form_is_415(self, client):
        response = client.post(URL, data={"patient": json.dumps(PATIENT),
                                          "answers": json.dumps(ROUTINE)})
        assert "multipart/form-data" in refused(response, 415)["detail"]
        assert nothing_stored()

    def test_no_body_at_all_names_both_missing_parts(self, client):
        body = refused(client.generic("POST", URL))
        assert set(body) == {"patient", "answers"}
        assert nothing_stored()

    def test_any_accept_header_still_gets_json(self, client):
        for accept in ("text/html", "application/xml", "image/png", "*/*;q=0", "garbage"):
            response = send(client, {"patient": PATIENT}, HTTP_ACCEPT=accept)
            assert "answers" in refused(response), accept
            response = client.get(QUESTIONNAIRE_URL, headers={"Accept": accept})
            assert response.status_code == 200, accept
            assert response["Content-Type"] == "application/json"


# --- Numbers -------------------------------------------------------------------------------


class TestNumbers:
    def test_an_integer_too_long_to_convert_is_400_not_500(self, client):
        text = json.dumps(with_answers(pain_severity=0)).replace(
            '"pain_severity": 0', '"pain_severity": 1' + "0" * 5000)
        assert "too many digits" in refused(send(client, text))["detail"]
        assert nothing_stored()

    def test_a_very_large_integer_under_the_conversion_limit_is_out_of_range(self, client):
        body = refused(send(client, with_answers(pain_severity=10**4000)))
        assert body["answers"]["pain_severity"] == ["Must be between 0 and 10."]

    @pytest.mark.parametrize("number", ["1e400", "-1e400", "1E999"])
    def test_a_float_that_overflows_is_400(self, client, number):
        text = json.dumps(with_answers(pain_severity=0)).replace(
            '"pain_severity": 0', f'"pain_severity": {number}')
        assert "too large" in refused(send(client, text))["detail"]
        assert nothing_stored()

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_non_numbers_are_400(self, client, literal):
        text = json.dumps(with_answers(pain_severity=0)).replace(
            '"pain_severity": 0', f'"pain_severity": {literal}')
        assert literal in refused(send(client, text))["detail"]

    def test_minus_zero_is_zero(self, client):
        text = json.dumps(with_answers(pain_severity=0)).replace(
            '"pain_severity": 0', '"pain_severity": -0')
        submission = accepted(send(client, text))
        assert submission.answers["pain_severity"] == 0

    @pytest.mark.parametrize("value", [-0.0, 4.0, 4.5, "4", " 4", "four", True, False, [4],
                                       {"value": 4}])
    def test_an_integer_answer_of_another_type_names_the_question(self, client, value):
        body = refused(send(client, with_answers(pain_severity=value)))
        assert body["answers"] == {"pain_severity": ["Enter a whole number between 0 and 10."]}
        assert nothing_stored()

    @pytest.mark.parametrize("value", [0, 1, "true", "yes", "0", None])
    def test_a_yes_no_answer_must_be_a_boolean(self, client, value):
        body = refused(send(client, with_answers(chest_pain=value)))
        assert list(body["answers"]) == ["chest_pain"]

    @pytest.mark.parametrize("version", ["2", 2.0, True, 1, -1, 0, 10**30, [2], {"n": 2}])
    def test_a_version_that_is_not_the_current_whole_number_is_named(self, client, version):
        body = refused(send(client, {**GOOD, "version": version}))
        assert list(body) == ["version"]


# --- Text: names, emails, phones ------------------------------------------------------------


class TestText:
    @pytest.mark.parametrize(("sent", "stored"), [
        ("Zoe\u0308 Bjo\u0308rk", "Zoë Björk"),             # combining diaeresis, stored as NFC
        ("Nguyê\u0303n Thi\u0323 Minh", "Nguyễn Thị Minh"),
        ("\u200fשרה כהן", "\u200fשרה כהן"),                 # right-to-left mark
        ("\u200eمحمد علي\u200f", "\u200eمحمد علي\u200f"),
        ("Ada  Example ", "Ada Example"),                   # spaces collapsed
        ("Ada 🙂 Example", "Ada 🙂 Example"),
        ("李小龍", "李小龍"),
    ])
    def test_real_names_are_accepted(self, client, sent, stored):
        submission = accepted(send(client, with_patient(full_name=sent)))
        assert submission.full_name == stored

    @pytest.mark.parametrize(("name", "message"), [
        ("🙂🙂", "in letters"),
        ("12345", "in letters"),
        ("\u200f\u200e", "in letters"),
        ("Ada\u0000Example", "control characters"),
        ("Ada\u0007", "control characters"),
        ("Ada\u0080", "control characters"),
        ("Ada\ud800Example", "not valid text"),
        ("A" * 201, "200 characters"),
        ("   ", "Enter your full name"),
        (42, "as text"),
        (["Ada"], "as text"),
    ])
    def test_names_that_are_not_names_are_named(self, client, name, message):
        body = refused(send(client, with_patient(full_name=name)))
        assert list(body["patient"]) == ["full_name"]
        assert message in body["patient"]["full_name"][0]
        assert nothing_stored()

    @pytest.mark.parametrize("email", ["ada@exämple.org", "ada@例え.jp", "", None])
    def test_unicode_domains_and_no_email_are_accepted(self, client, email):
        accepted(send(client, with_patient(email=email)))

    @pytest.mark.parametrize("email", ["ada", "ada@", "@example.org", "ada@@example.org",
                                       "ada example@example.org", "ada@example.org\u0000",
                                       "a" * 250 + "@example.org", 7])
    def test_emails_that_are_not_emails_are_named(self, client, email):
        body = refused(send(client, with_patient(email=email)))
        assert list(body["patient"]) == ["email"]
        assert nothing_stored()

    @pytest.mark.parametrize("phone", ["07700 900123", "+44 7700 900123", "(020) 7946-0958",
                                       "+1.415.555.0100", " 07700900123 "])
    def test_phone_numbers_as_people_write_them_are_accepted(self, client, phone):
        accepted(send(client, with_patient(phone=phone)))

    @pytest.mark.parametrize("phone", ["0770 CALL ME", "07700 900123 ext 5", "+44\t7700900123",
                                       "+44\n7700900123", "12345", "1" * 16, "++447700900123",
                                       "٠٧٧٠٠٩٠٠١٢٣", 7700900123, ""])
    def test_phone_numbers_with_letters_or_the_wrong_length_are_named(self, client, phone):
        body = refused(send(client, with_patient(phone=phone)))
        assert list(body["patient"]) == ["phone"]
        assert nothing_stored()

    def test_a_text_answer_keeps_emoji_and_refuses_control_characters(self, client):
        accepted(send(client, with_answers(other_information="Sore 😣 after the gym")))
        body = refused(send(client, with_answers(other_information="Sore\u001b[31m")))
        assert body["answers"] == {
            "other_information": ["Remove the control characters from this answer."]}


# --- Dates ---------------------------------------------------------------------------------


class TestDateOfBirth:
    def test_a_leap_day_that_exists_is_accepted(self, client):
        submission = accepted(send(client, with_patient(date_of_birth="2024-02-29")))
        assert str(submission.date_of_birth) == "2024-02-29"

    @pytest.mark.parametrize(("date", "message"), [
        ("2023-02-29", "does not exist"),
        ("1971-02-30", "does not exist"),
        ("1971-13-01", "does not exist"),
        ("0000-01-01", "does not exist"),
        ("1890-01-01", "year"),
        ("2999-01-01", "future"),
        ("1971-03-02T00:00:00", "year-month-day"),
        ("1971-03-02T00:00:00Z", "year-month-day"),
        ("1971-03-02 ", "year-month-day"),
        ("1971-03-02\n", "year-month-day"),
        ("02/03/1971", "year-month-day"),
        ("1971-3-2", "year-month-day"),
        ("١٩٧١-٠٣-٠٢", "year-month-day"),                  # Arabic-Indic digits
        ("+1971-03-02", "year-month-day"),
        (19710302, "year-month-day"),
        ("", "Enter your date of birth"),
    ])
    def test_dates_that_do_not_exist_or_are_not_dates_are_named(self, client, date, message):
        body = refused(send(client, with_patient(date_of_birth=date)))
        assert list(body["patient"]) == ["date_of_birth"]
        assert message in body["patient"]["date_of_birth"][0]
        assert nothing_stored()


# --- Shapes, keys and sizes ----------------------------------------------------------------


class TestShapes:
    def test_duplicate_choices_are_named(self, client):
        body = refused(send(client, with_answers(pain_character=["aching", "aching"])))
        assert body["answers"] == {"pain_character": ["Each choice may be given only once."]}

    @pytest.mark.parametrize("value", [["aching", None], [None], ["aching", 1], ["aching", []],
                                       "aching", {"aching": True}])
    def test_a_list_answer_of_the_wrong_shape_is_named(self, client, value):
        body = refused(send(client, with_answers(pain_character=value)))
        assert list(body["answers"]) == ["pain_character"]
        assert "list of choices" in body["answers"]["pain_character"][0]

    def test_a_very_long_key_is_named_shortened(self, client):
        key = "k" * 10_000
        body = refused(send(client, with_answers(**{key: 1})))
        assert body["answers"] == {"k" * 64: [
            "There is no question with this code in this questionnaire."]}

    def test_keys_that_cannot_be_written_back_as_utf8_are_shown_safely(self, client):
        text = json.dumps(with_answers()).replace('"chest_pain"', '"\\ud800chest_pain"', 1)
        body = refused(send(client, text))
        assert "\ufffdchest_pain" in body["answers"]
        text = json.dumps(with_answers()).replace(
            '"chest_pain": false', '"chest_pain": false, "\\udfff": 1, "\\udfff": 2', 1)
        assert "twice" in refused(send(client, text))["detail"]

    def test_a_choice_value_with_a_lone_surrogate_is_shown_safely(self, client):
        text = json.dumps(with_answers(sex="x")).replace('"sex": "x"', '"sex": "\\ud83d"')
        body = refused(send(client, text))
        assert body["answers"]["sex"][0].startswith("“\ufffd” is not one of the choices")

    def test_thousands_of_unknown_keys_get_a_short_answer(self, client):
        junk = {f"{i:x}": 0 for i in range(6_000)}
        response = send(client, with_answers(**junk))
        body = refused(response)
        assert len(body["answers"]) == 21
        assert body["answers"]["non_field_errors"] == [
            "5980 more keys are not question codes of this questionnaire; send only the codes "
            "/api/questionnaires/current/ lists."]
        assert len(response.content) < 4_000
        assert nothing_stored()

    def test_ten_thousand_keys_are_over_the_body_limit(self, client):
        junk = {f"key{i}": 0 for i in range(10_000)}
        assert "bytes" in refused(send(client, with_answers(**junk)), 413)["detail"]
        assert nothing_stored()

    def test_an_array_of_a_hundred_thousand_items_is_over_the_body_limit(self, client):
        body = refused(send(client, with_answers(pain_character=["aching"] * 100_000)), 413)
        assert "65536 bytes" in body["detail"]

    def test_the_longest_array_under_the_body_limit_is_refused_quickly(self, client):
        items = [0] * 20_000
        body = refused(send(client, with_answers(pain_character=items)))
        assert list(body["answers"]) == ["pain_character"]
        items = ["aching"] * 6_000
        body = refused(send(client, with_answers(pain_character=items)))
        assert body["answers"] == {"pain_character": ["Each choice may be given only once."]}

    @pytest.mark.parametrize("field", ["detail", "non_field_errors", "patient\u0000", "x" * 300])
    def test_unknown_top_level_fields_are_named_in_non_field_errors(self, client, field):
        body = refused(send(client, {**GOOD, field: 1}))
        assert set(body) == {"non_field_errors"}
        assert body["non_field_errors"][0].startswith("Unknown field “")
        assert nothing_stored()

    def test_unknown_patient_fields_are_named(self, client):
        body = refused(send(client, {"patient": {**PATIENT, "nhs_number": "1"},
                                     "answers": ROUTINE}))
        assert list(body["patient"]) == ["nhs_number"]


# --- Methods, paths and query strings ------------------------------------------------------


class TestMethodsAndPaths:
    @pytest.mark.parametrize("path", [URL, QUESTIONNAIRE_URL])
    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRACE"])
    def test_other_methods_are_405_json_with_allow(self, client, method, path):
        response = send(client, GOOD, method=method, path=path)
        body = refused(response, 405)
        assert method in body["detail"]
        allowed = {m.strip() for m in response["Allow"].split(",")}
        assert "OPTIONS" in allowed
        assert method not in allowed
        assert nothing_stored()

    @pytest.mark.parametrize(("method", "path", "status"), [
        ("POST", "/api/schema/", 405),
        ("DELETE", "/api/schema/?format=json", 405),
        ("PUT", "/api/docs/", 405),
        ("GET", "/api/schema/?format=xml", 404),
    ])
    def test_the_schema_and_docs_views_answer_errors_in_json(self, client, method, path,
                                                             status):
        assert "detail" in refused(send(client, GOOD, method=method, path=path), status)

    def test_the_schema_view_answers_an_unmet_accept_header_in_json(self, client):
        response = client.get("/api/schema/", headers={"Accept": "text/html"})
        assert "Accept" in refused(response, 406)["detail"]

    def test_get_on_the_submissions_endpoint_is_405(self, client):
        assert "GET" in refused(client.get(URL), 405)["detail"]

    @pytest.mark.parametrize("path", [URL, QUESTIONNAIRE_URL])
    def test_options_describes_the_endpoint_in_json(self, client, path):
        response = client.options(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "application/json" in response.json()["renders"]

    def test_head_on_the_questionnaire_is_a_bodiless_200(self, client):
        response = client.head(QUESTIONNAIRE_URL)
        assert response.status_code == 200
        assert response.content == b""

    def test_head_on_the_submissions_endpoint_is_405(self, client):
        response = client.head(URL)
        assert response.status_code == 405
        assert "POST" in response["Allow"]

    @pytest.mark.parametrize(("method", "path"), [
        ("POST", "/api/submissions"),
        ("GET", "/api/questionnaires/current"),
    ])
    def test_a_missing_trailing_slash_is_a_404_naming_the_right_path(self, client, method, path):
        body = refused(send(client, GOOD, method=method, path=path), 404)
        assert f"Did you mean {path}/ ?" in body["detail"]
        assert nothing_stored()

    @pytest.mark.parametrize("path", ["/api/submissions//", "/api/SUBMISSIONS/",
                                      "/api/submissions/../schema/", "/api/%00/",
                                      "/api/submissions/x/y/z"])
    def test_other_wrong_paths_are_404_json(self, client, path):
        assert "detail" in refused(send(client, GOOD, path=path), 404)
        assert nothing_stored()

    def test_get_of_the_questionnaire_with_a_body_ignores_the_body(self, client):
        response = send(client, b'{"junk": [1, 2, 3]}', method="GET", path=QUESTIONNAIRE_URL)
        assert response.status_code == 200
        assert response.json()["version"] == 2
        response = send(client, b"\xff\xfe not json", method="GET", path=QUESTIONNAIRE_URL,
                        content_type="text/plain")
        assert response.status_code == 200

    @pytest.mark.parametrize("query", [
        "format=xml", "format=api", "format=json", "format=", "%ff%fe=%00", "a=1&a=2",
        "version=3", "answers=%7B%7D", "=", "&&&", "a" * 5000,
        "&".join(f"f{i}=1" for i in range(1_500)),
    ])
    def test_junk_in_the_query_string_changes_nothing(self, client, query):
        assert client.get(f"{QUESTIONNAIRE_URL}?{query}").status_code == 200
        accepted(send(client, GOOD, path=f"{URL}?{query}"))
        Submission.objects.all().delete()


def test_a_throttled_client_gets_json_and_retry_after(client, monkeypatch):
    from intake.api.views import SubmissionThrottle

    monkeypatch.setattr(SubmissionThrottle, "THROTTLE_RATES", {"submissions": "1/minute"})
    accepted(send(client, GOOD))
    response = send(client, GOOD)
    assert "throttled" in refused(response, 429)["detail"]
    assert 0 < int(response["Retry-After"]) <= 60
    assert Submission.objects.count() == 1


def test_djangos_own_refusals_under_the_api_are_json_saying_why(rf):
    from django.core.exceptions import DisallowedHost, TooManyFieldsSent

    from config.errors import bad_request

    response = bad_request(rf.get("/api/queue/"), TooManyFieldsSent("Too many fields (1001)."))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Too many fields" in json.loads(response.content)["detail"]
    # A rejected Host header is not explained: that would help someone probing the deployment.
    response = bad_request(rf.get("/api/queue/"), DisallowedHost("Invalid HTTP_HOST: evil"))
    assert json.loads(response.content) == {"detail": "The request could not be understood."}


# --- Idempotency under concurrency -----------------------------------------------------------


def post_at_once(bodies, key, monkeypatch):
    """POST each body from its own thread with the same Idempotency-Key, making every thread
    look the key up before any stores (the race a retrying client starts), and return the
    responses."""
    from django.test import Client

    from intake.services import submissions

    looked_up = threading.Barrier(len(bodies), timeout=20)
    original_replay = submissions._replay
    first_lookup = threading.local()

    def replay_after_everyone_looked(*args, **kwargs):
        result = original_replay(*args, **kwargs)
        if not getattr(first_lookup, "done", False):
            first_lookup.done = True
            looked_up.wait()
        return result

    monkeypatch.setattr(submissions, "_replay", replay_after_everyone_looked)
    responses = [None] * len(bodies)

    def post(index, body):
        try:
            responses[index] = send(Client(), body, **{"Idempotency-Key": key})
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_key_posted_twice_at_once_makes_one_submission(monkeypatch):
    first, second = post_at_once([GOOD, GOOD], "concurrent-key-1", monkeypatch)
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    assert first.json() == second.json()
    assert Submission.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert Submission.objects.get().answers == ROUTINE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_key_with_two_bodies_at_once_makes_one_submission_and_one_422(monkeypatch):
    other = {"patient": PATIENT, "answers": {**ROUTINE, "chest_pain": True}}
    responses = post_at_once([GOOD, other], "concurrent-key-2", monkeypatch)
    assert sorted(r.status_code for r in responses) == [201, 422], [r.content for r in responses]
    [loser] = [r for r in responses if r.status_code == 422]
    assert "different request" in refused(loser, 422)["detail"]
    assert Submission.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
