"""A posted FHIR QuestionnaireResponse read back into what ``submit_intake`` takes.

This checks the FHIR shape only: that the body is a QuestionnaireResponse to the current
questionnaire, that each answer carries the value[x] its question's type calls for and codings
of the questionnaire's own systems, and that the patient is a contained Patient named by
``subject``.  What makes an intake valid (ranges, choices, show-conditions, required answers,
the patient's details) is decided by ``submit_intake``, exactly as for ``POST
/api/submissions/``; ``validation_issues`` then names each of its problems by the element of
the posted resource it is about.

What is read, and what is not:

- ``questionnaire`` must be ``{url}|{version}`` of the current version (``GET
  /api/fhir/Questionnaire?url=...`` says which); ``status`` must be ``completed``.
- Items are read wherever they are: in groups (as the Questionnaire has them), flat, or under an
  answer.  An item with answers is the question whose code is its ``linkId``; its ``text`` is
  not read (the service keeps the question's own text).  An item without answers is walked
  for the items inside it.
- ``subject`` is ``{"reference": "#id"}`` of a contained Patient, of which the service reads
  the first ``name`` (its ``text``, else ``given`` and ``family``), ``birthDate``, the first
  ``telecom`` with system ``phone`` and the first with system ``email``, and nothing else.
- ``id``, ``meta``, ``text``, ``language``, ``identifier``, ``basedOn``, ``partOf``,
  ``encounter``, ``authored``, ``author``, ``source`` and extensions are allowed and not read
  (the service gives the submission its own reference and time).  Modifier extensions and
  ``implicitRules`` change the meaning of a resource, so they are refused, as are answer types
  no question here takes (valueDate, valueDecimal, ...) and elements FHIR does not define.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from intake.models import QuestionnaireVersion
from intake.question_types import REGISTRY
from intake.quoting import printable, quoted
from intake.selectors import QuestionSpec, VersionSchema
from intake.services.answers import MAX_UNKNOWN_CODES_NAMED
from interop.fhir import mapping
from interop.fhir.mapping import Issue

ROOT = "QuestionnaireResponse"
# Deeper nesting than a real questionnaire ever has is refused before it costs anything.
MAX_ITEM_DEPTH = 10
_INT32 = (-(2**31), 2**31 - 1)

_OBJECT, _LIST, _STRING, _BOOLEAN = dict, list, str, bool
# The elements a QuestionnaireResponse may have here, and the JSON type of each.  The OpenAPI
# document (interop.fhir.schema) states the same.
RESPONSE_ELEMENTS = {
    "resourceType": _STRING, "id": _STRING, "meta": _OBJECT, "language": _STRING,
    "text": _OBJECT, "contained": _LIST, "extension": _LIST, "identifier": _OBJECT,
    "basedOn": _LIST, "partOf": _LIST, "questionnaire": _STRING, "status": _STRING,
    "subject": _OBJECT, "encounter": _OBJECT, "authored": _STRING, "author": _OBJECT,
    "source": _OBJECT, "item": _LIST,
}
ITEM_ELEMENTS = {"id": _STRING, "extension": _LIST, "linkId": _STRING, "definition": _STRING,
                 "text": _STRING, "answer": _LIST, "item": _LIST}
# An answer's elements besides its value[x], which is that of a question type (_value_elements).
ANSWER_ELEMENTS = {"id": _STRING, "extension": _LIST, "item": _LIST}
CODING_ELEMENTS = {"id": _STRING, "extension": _LIST, "system": _STRING, "version": _STRING,
                   "code": _STRING, "display": _STRING, "userSelected": _BOOLEAN}
REFERENCE_ELEMENTS = {"id": _STRING, "extension": _LIST, "reference": _STRING, "type": _STRING,
                      "identifier": _OBJECT, "display": _STRING}
# Elements whose every entry must be an object.
_LISTS_OF_OBJECTS = {"contained", "extension", "basedOn", "partOf", "item", "answer"}
_MODIFIERS = {"modifierExtension", "implicitRules"}

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
               int: "a whole number"}
# The patient's details as submit_intake names them, and the Patient elements they come from.
PATIENT_ELEMENTS = {"full_name": "name", "date_of_birth": "birthDate", "phone": "telecom",
                    "email": "telecom"}


class ResponseInvalid(Exception):
    """The body is not a QuestionnaireResponse this service can read; ``issues`` say why."""

    def __init__(self, issues: list[Issue]):
        super().__init__("the QuestionnaireResponse cannot be read")
        self.issues = issues


@dataclass
class IntakeInput:
    """What ``submit_intake`` takes, and where in the posted resource each part came from."""

    patient: dict[str, Any]
    answers: dict[str, Any]
    version_number: int
    # Question code (as submit_intake names it) -> the FHIRPath of the item that answered it.
    answer_paths: dict[str, str] = field(default_factory=dict)
    # Patient detail (full_name, ...; "patient" for the whole) -> the Patient element's path.
    patient_paths: dict[str, str] = field(default_factory=dict)


def read_questionnaire_response(resource: Any, version: QuestionnaireVersion) -> IntakeInput:
    """Read a posted QuestionnaireResponse for ``version``, the current questionnaire version.

    Raises ``ResponseInvalid`` naming every problem of shape found.
    """
    reader = _Reader(version)
    return reader.read(resource)


def validation_issues(errors: dict[str, Any], intake: IntakeInput) -> list[Issue]:
    """``SubmissionInvalid.errors`` as OperationOutcome issues, each naming the question's
    linkId or the Patient element, with the path of the posted element when there is one."""
    issues = []
    for code, messages in _messages(errors.get("answers")):
        if code == "non_field_errors":
            issues += [Issue(m, expression=[f"{ROOT}.item"]) for m in messages]
            continue
        path = intake.answer_paths.get(code, f"{ROOT}.item")
        issues += [Issue(f"Question {quoted(code)}: {m}", expression=[path]) for m in messages]
    for name, messages in _messages(errors.get("patient")):
        element = PATIENT_ELEMENTS.get(name)
        what = f"Patient {element}" if element else "Patient"
        if name in ("phone", "email"):
            what = f"Patient telecom ({name})"
        path = intake.patient_paths.get(name, intake.patient_paths.get("patient",
                                                                        f"{ROOT}.contained"))
        issues += [Issue(f"{what}: {m}", expression=[path]) for m in messages]
    for _, messages in _messages(errors.get("version")):
        issues += [Issue(m, code="business-rule", expression=[f"{ROOT}.questionnaire"])
                   for m in messages]
    for name, messages in errors.items():
        if name not in ("answers", "patient", "version"):
            issues += [Issue(str(m)) for m in (messages if isinstance(messages, list)
                                                else [messages])]
    return issues


def _messages(errors) -> list[tuple[str, list[str]]]:
    if isinstance(errors, dict):
        return [(str(k), [str(m) for m in v] if isinstance(v, list) else [str(v)])
                for k, v in errors.items()]
    if isinstance(errors, list):
        return [("non_field_errors", [str(m) for m in errors])]
    return []


class _Reader:
    def __init__(self, version: QuestionnaireVersion):
        self.version = version
        self.slug = version.questionnaire.slug
        self.schema = VersionSchema.of(version)
        self.issues: list[Issue] = []
        self.answers: dict[str, Any] = {}
        self.answer_paths: dict[str, str] = {}
        self.patient_paths: dict[str, str] = {}

    def problem(self, path: str, text: str, code: str = "structure") -> None:
        self.issues.append(Issue(text, code=code, expression=[path] if path else []))

    def read(self, resource: Any) -> IntakeInput:
        if resource == {}:  # what DRF makes of an empty body too
            raise ResponseInvalid([Issue(
                "The request body is empty: send one FHIR QuestionnaireResponse.",
                code="structure")])
        if not isinstance(resource, dict):
            raise ResponseInvalid([Issue(
                "Send one FHIR QuestionnaireResponse: a JSON object with "
                '"resourceType": "QuestionnaireResponse".', code="structure")])
        kind = resource.get("resourceType")
        if kind != "QuestionnaireResponse":
            what = (f"resourceType {quoted(kind)}" if isinstance(kind, str)
                    else "no resourceType")
            raise ResponseInvalid([Issue(
                f"This endpoint takes a QuestionnaireResponse; the body has {what}. Send "
                '"resourceType": "QuestionnaireResponse".', code="structure",
                expression=[ROOT])])
        self._check_elements(resource, RESPONSE_ELEMENTS, ROOT)
        version_number = self._questionnaire(resource.get("questionnaire"))
        status = resource.get("status")
        if status is None:
            self.problem(f"{ROOT}.status", 'Give the status: "completed".', "required")
        elif isinstance(status, str) and status != "completed":
            self.problem(f"{ROOT}.status", f"The status is {quoted(status)}; only a completed "
                         'response can be screened: send "status": "completed".', "value")
        patient = self._patient(resource)
        # Answers are read only against the questionnaire they were given for.
        if version_number is not None and isinstance(resource.get("item"), list):
            self._items(resource["item"], f"{ROOT}.item", depth=1)
        if self.issues:
            raise ResponseInvalid(self.issues)
        return IntakeInput(patient=patient, answers=self.answers, version_number=version_number,
                           answer_paths=self.answer_paths, patient_paths=self.patient_paths)

    # --- Shape --------------------------------------------------------------------------------

    def _check_elements(self, obj: dict, allowed: dict[str, type], path: str) -> bool:
        """Report unknown elements and elements of the wrong JSON type; True when all is well."""
        fine = True
        unknown = [key for key in obj if key not in allowed]
        for key in unknown[:MAX_UNKNOWN_CODES_NAMED]:
            fine = False
            if key in _MODIFIERS:
                self.problem(f"{path}.{key}", f"{key} changes what the resource means, and this "
                             "service does not understand it; send the resource without it.",
                             "not-supported")
            elif key.startswith("value"):
                self.problem(f"{path}.{printable(key)}", f"{quoted(key)} is not an answer type "
                             f"any question here takes: answer with {_value_names()}, as the "
                             "question's type says.", "not-supported")
            else:
                self.problem(f"{path}.{printable(key)}", f"{quoted(key)} is not an element "
                             "this service reads here; leave it out.")
        for key, kind in allowed.items():
            if key not in obj:
                continue
            value = obj[key]
            if not _is_type(value, kind):
                fine = False
                self.problem(f"{path}.{key}", f"{key} must be {_TYPE_NAMES[kind]}.")
            elif key in _LISTS_OF_OBJECTS and not _list_of_objects(value):
                fine = False
                self.problem(f"{path}.{key}", f"Each entry of {key} must be an object.")
        return fine

    # --- The questionnaire it answers ---------------------------------------------------------

    def _questionnaire(self, canonical: Any) -> int | None:
        """The version number the response names, if it names the current version."""
        path = f"{ROOT}.questionnaire"
        current = f"{mapping.questionnaire_url(self.slug)}|{self.version.number}"
        if not isinstance(canonical, str):
            if canonical is None:
                self.problem(path, f"Name the questionnaire answered: \"{current}\".", "required")
            return None
        url, _, number = canonical.partition("|")
        if url != mapping.questionnaire_url(self.slug):
            self.problem(path, f"This service screens answers to {current} only, the "
                         f"questionnaire it publishes; {quoted(url, 200)} is not it.",
                         "not-supported")
            return None
        if not re.fullmatch(r"[0-9]{1,9}", number):
            self.problem(path, f"Name the version answered too: \"{current}\".", "value")
            return None
        if int(number) != self.version.number:
            self.problem(path, f"Version {int(number)} is not the current version of the "
                         f"questionnaire ({self.version.number}): fetch GET /api/fhir/"
                         f"Questionnaire?url={mapping.questionnaire_url(self.slug)} and answer "
                         "the active one.", "business-rule")
            return None
        return int(number)

    # --- The patient ------------------------------------------------------------------------

    def _patient(self, resource: dict) -> dict[str, Any]:
        """The patient's details for submit_intake (missing ones as None, which it reports)."""
        details = {"full_name": None, "date_of_birth": None, "phone": None, "email": ""}
        contained = resource.get("contained")
        entries = contained if _list_of_objects(contained) else []
        for i, entry in enumerate(entries):
            if not isinstance(entry.get("resourceType"), str):
                self.problem(f"{ROOT}.contained[{i}]", "Each contained resource needs its "
                             "resourceType.")
        how = ('Put the patient in "contained" as a Patient resource and name it from '
               '"subject": {"reference": "#patient"}.')
        subject = resource.get("subject")
        if subject is None:
            self.problem(f"{ROOT}.subject", f"The response names no patient. {how}", "required")
            return details
        if not isinstance(subject, dict) or not self._check_elements(
                subject, REFERENCE_ELEMENTS, f"{ROOT}.subject"):
            return details  # reported
        wanted = subject.get("reference")
        if not isinstance(wanted, str) or not wanted.startswith("#"):
            self.problem(f"{ROOT}.subject.reference", "The patient must be contained in the "
                         f"response. {how}", "not-supported")
            return details
        index = next((i for i, entry in enumerate(entries) if entry.get("id") == wanted[1:]),
                     None)
        if index is None or entries[index].get("resourceType") != "Patient":
            self.problem(f"{ROOT}.subject.reference", f"{quoted(wanted)} is not a contained "
                         f"Patient. {how}", "not-found")
            return details
        path = f"{ROOT}.contained[{index}]"
        self.patient_paths["patient"] = path
        return self._patient_details(entries[index], path, details)

    def _patient_details(self, patient: dict, path: str, details: dict) -> dict[str, Any]:
        for key in _MODIFIERS & set(patient):
            self.problem(f"{path}.{key}", f"{key} changes what the Patient means, and this "
                         "service does not understand it; send the Patient without it.",
                         "not-supported")
        names = patient.get("name")
        self.patient_paths["full_name"] = f"{path}.name"
        if names is not None:
            if not _list_of_objects(names):
                self.problem(f"{path}.name", "name must be a list of HumanName objects.")
            elif names:
                details["full_name"] = self._name(names[0], f"{path}.name[0]")
                self.patient_paths["full_name"] = f"{path}.name[0]"
        birth = patient.get("birthDate")
        self.patient_paths["date_of_birth"] = f"{path}.birthDate"
        if birth is not None:
            if isinstance(birth, str):
                details["date_of_birth"] = birth
            else:
                self.problem(f"{path}.birthDate", 'birthDate must be a date such as '
                             '"1971-03-02".')
        telecom = patient.get("telecom")
        self.patient_paths["phone"] = self.patient_paths["email"] = f"{path}.telecom"
        if telecom is not None:
            if not _list_of_objects(telecom):
                self.problem(f"{path}.telecom", "telecom must be a list of ContactPoint objects.")
                return details
            for i, point in enumerate(telecom):
                system, value = point.get("system"), point.get("value")
                if not isinstance(system, str) or not isinstance(value, str):
                    self.problem(f"{path}.telecom[{i}]", "Each telecom needs a system and a "
                                 'value, as text: {"system": "phone", "value": "07700 900123"}.')
                    continue
                field_name = {"phone": "phone", "email": "email"}.get(system)
                if field_name and details[field_name] in (None, ""):
                    details[field_name] = value
                    self.patient_paths[field_name] = f"{path}.telecom[{i}]"
        return details

    def _name(self, name: dict, path: str) -> str | None:
        text = name.get("text")
        if text is not None:
            if not isinstance(text, str):
                self.problem(f"{path}.text", "The name's text must be a string.")
                return None
            return text
        given, family = name.get("given", []), name.get("family")
        if not (isinstance(given, list) and all(isinstance(g, str) for g in given)) or \
                not (family is None or isinstance(family, str)):
            self.problem(path, "Give the name as text, or as given names (a list of strings) "
                         "and a family name (a string).")
            return None
        parts = [*given, *([family] if family else [])]
        return " ".join(parts) if parts else None

    # --- Answers ----------------------------------------------------------------------------

    def _items(self, items: list, path: str, depth: int) -> None:
        if depth > MAX_ITEM_DEPTH:
            self.problem(path, f"Items are nested more than {MAX_ITEM_DEPTH} deep; the "
                         "questionnaire has groups of questions, no deeper.")
            return
        for i, item in enumerate(items):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                continue  # reported with the list that holds it
            if not self._check_elements(item, ITEM_ELEMENTS, item_path):
                continue
            link_id = item.get("linkId")
            if link_id is None:
                self.problem(f"{item_path}.linkId", "Every item needs its linkId: the question "
                             "code, or the group's linkId.", "required")
                continue
            answers = item.get("answer") or []
            if answers:
                self._answer(link_id, answers, item_path)
                for j, answer in enumerate(answers):
                    if isinstance(answer, dict) and isinstance(answer.get("item"), list):
                        self._items(answer["item"], f"{item_path}.answer[{j}].item", depth + 1)
            if isinstance(item.get("item"), list):
                self._items(item["item"], f"{item_path}.item", depth + 1)

    def _answer(self, code: str, answers: list, path: str) -> None:
        key = printable(code)
        if code in self.answers or key in self.answer_paths:
            self.problem(path, f"Question {quoted(code)} is answered in more than one item; "
                         "give all its answers in one item.", "value")
            return
        values = []
        for j, answer in enumerate(answers):
            answer_path = f"{path}.answer[{j}]"
            values_allowed = _value_elements()
            if not self._check_elements(answer, {**ANSWER_ELEMENTS, **values_allowed},
                                        answer_path):
                return
            given = [(k, answer[k]) for k in values_allowed if k in answer]
            if len(given) != 1:
                self.problem(answer_path, f"Each answer has exactly one value: {_value_names()}.",
                             "required" if not given else "structure")
                return
            value_key, value = given[0]
            if value_key == "valueInteger" and not _INT32[0] <= value <= _INT32[1]:
                self.problem(f"{answer_path}.valueInteger", "valueInteger must fit in 32 bits "
                             "(FHIR's integer).", "value")
                return
            if value_key == "valueCoding" and not self._check_elements(
                    value, CODING_ELEMENTS, f"{answer_path}.valueCoding"):
                return
            values.append((value_key, value, answer_path))
        self.answer_paths[key] = path
        question = self.schema.questions.get(code)
        if question is None:
            # Not a question of this questionnaire: submit_intake names it with the others.
            self.answers[code] = _plain(values[0][1])
            return
        self._typed_answer(question, values, path)

    def _typed_answer(self, question: QuestionSpec, values: list, path: str) -> None:
        kind = question.kind
        code, expected = question.code, kind.fhir_value
        wrong = next((p for k, _, p in values if k != expected), None)
        if wrong is not None:
            self.problem(wrong, f"Question {quoted(code)} is a {kind.label} question: "
                         f"answer it with {expected}.", "value")
            return
        if not kind.repeats and len(values) > 1:
            self.problem(path, f"Question {quoted(code)} takes one answer; this item has "
                         f"{len(values)}.", "value")
            return
        if not kind.has_choices:
            self.answers[code] = kind.from_fhir([value for _, value, _ in values])
            return
        system = mapping.choice_system(self.slug, code)
        chosen = []
        for _, coding, answer_path in values:
            if coding.get("system") != system:
                given = coding.get("system")
                said = f"is {quoted(given, 200)}" if given is not None else "is missing"
                self.problem(f"{answer_path}.valueCoding.system", f"Question {quoted(code)}'s "
                             f"choices are coded in {system}; this coding's system {said}.",
                             "value")
                return
            if not isinstance(coding.get("code"), str):
                self.problem(f"{answer_path}.valueCoding.code", f"Give the choice's code, one "
                             f"of the answerOption codes of {quoted(code)}.", "required")
                return
            chosen.append(coding["code"])
        self.answers[code] = kind.from_fhir(chosen)


def _value_elements() -> dict[str, type]:
    """The value[x] elements an answer may carry, with their JSON types: those of the question
    types (``intake.question_types``), in the order they are registered."""
    return {kind.fhir_value: kind.fhir_value_type for kind in REGISTRY.values()}


def _value_names() -> str:
    names = list(_value_elements())
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _is_type(value: Any, kind: type) -> bool:
    if kind is int:
        return type(value) is int  # true and false are not numbers
    return isinstance(value, kind)


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _plain(value: Any) -> Any:
    """An answer to an unknown question, as plain JSON for submit_intake to refuse."""
    if isinstance(value, dict):
        return value.get("code")
    return value
