"""The project's records as FHIR R4 resources, as plain dicts ready to render as JSON.

Nothing here queries the database beyond what the objects passed in have loaded (see
``interop.fhir.selectors``), and nothing here decides anything: the questionnaire, the answers,
the flags and the urgency are the services' own, only written in FHIR's words.

Identifiers and canonical URLs are built from ``canonical_base()``: the ``FHIR_CANONICAL_BASE``
setting when there is one, else ``SITE_URL`` + ``/fhir``.  They are names, not addresses (nothing
is served at them), and a record system keeps them: choose the base once and never change it.

- A questionnaire's ``url`` is ``{base}/Questionnaire/{slug}`` for every version; ``version`` is
  the version number.  Its FHIR ``id`` is ``{slug}-{number}``, with any ``_`` of the slug
  written ``.`` (FHIR ids cannot hold ``_``).
- A choice is a ``Coding`` whose ``system`` is ``{questionnaire url}/choices/{question code}``
  and whose ``code`` is the choice value.
- Sections are ``group`` items with linkId ``section-{n}`` (1-based, in order); a question's
  linkId is its code.
- A submission is a QuestionnaireResponse whose ``id`` is the submission's reference, also
  given as ``identifier`` (system ``{base}/submission``).  The patient is a contained Patient
  (``#patient``) named by ``subject``: the service keeps the patient's details with the
  submission, not as a record of their own.  Flags and the risk assessment contain the same
  Patient, so that each resource stands alone.
"""

import datetime
import re
from dataclasses import dataclass, field

from django.conf import settings

from intake.models import Question, QuestionnaireVersion, Submission
from intake.question_types import type_of
from screening.models import Category, Flag, Tier

# Extensions and code systems of FHIR itself.
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_CODES = "http://hl7.org/fhir/questionnaire-item-control"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_CODES = "http://hl7.org/fhir/flag-priority-code"

PATIENT_ID = "patient"
PATIENT_REFERENCE = f"#{PATIENT_ID}"

# How FHIR's flag-priority codes read our tiers (the exact tier is the second coding).
_PRIORITY = {Tier.EMERGENCY: ("PH", "High priority"), Tier.URGENT: ("PH", "High priority"),
             Tier.SOON: ("PM", "Medium priority")}


# --- Names ----------------------------------------------------------------------------------


def canonical_base() -> str:
    base = settings.FHIR_CANONICAL_BASE or f"{settings.SITE_URL}/fhir"
    return base.rstrip("/")


def questionnaire_url(slug: str) -> str:
    return f"{canonical_base()}/Questionnaire/{slug}"


def slug_of_url(url: str) -> str | None:
    """The questionnaire slug a canonical URL names, or None if it is not one of ours."""
    prefix = f"{canonical_base()}/Questionnaire/"
    if not url.startswith(prefix):
        return None
    slug = url[len(prefix):]
    return slug if re.fullmatch(r"[-a-zA-Z0-9_]+", slug) else None


def choice_system(slug: str, question_code: str) -> str:
    return f"{questionnaire_url(slug)}/choices/{question_code}"


def submission_system() -> str:
    return f"{canonical_base()}/submission"


def code_system(name: str) -> str:
    """One of the service's own code systems: flag-category, screening-rule, urgency."""
    return f"{canonical_base()}/CodeSystem/{name}"


def questionnaire_id(version: QuestionnaireVersion) -> str:
    return f"{version.questionnaire.slug.replace('_', '.')}-{version.number}"


def parse_questionnaire_id(text: str) -> tuple[str, int] | None:
    """(slug, version number) of a Questionnaire id, or None if it cannot be one."""
    match = re.fullmatch(r"([-a-zA-Z0-9.]{1,50})-([0-9]{1,9})", text)
    if match is None:
        return None
    return match[1].replace(".", "_"), int(match[2])


def instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- Questionnaire --------------------------------------------------------------------------


def questionnaire(version: QuestionnaireVersion, *, current: bool) -> dict:
    """A published version, with its sections and questions (and their choices) loaded.

    ``current``: it is the version patients answer now (``active``); older ones are
    ``retired``.
    """
    slug = version.questionnaire.slug
    questions = {q.code: q for s in version.sections.all() for q in s.questions.all()}
    resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(version),
        "url": questionnaire_url(slug),
        "version": str(version.number),
        "title": version.title,
        "status": "active" if current else "retired",
        "subjectType": ["Patient"],
    }
    if version.published_at is not None:
        resource["date"] = instant(version.published_at)
    if version.introduction:
        resource["description"] = version.introduction
    resource["item"] = [
        {"linkId": section_link_id(n), "text": section.title, "type": "group",
         "item": [_question_item(slug, q, questions) for q in section.questions.all()]}
        for n, section in enumerate(version.sections.all(), start=1)
    ]
    return resource


def section_link_id(n: int) -> str:
    return f"section-{n}"


def _question_item(slug: str, question: Question, questions: dict[str, Question]) -> dict:
    """The item of a question: its type's FHIR item type, and what the type has (several
    answers, choices, a range, a length limit) in FHIR's words."""
    kind = type_of(question)
    item = {"linkId": question.code, "text": question.text, "type": kind.fhir_item_type,
            "required": question.required}
    extensions = []
    if kind.repeats:
        item["repeats"] = True
    if kind.has_choices:
        item["answerOption"] = [_answer_option(slug, question, choice)
                                for choice in question.choices.all()]
    if kind.has_range:
        if question.min_value is not None:
            extensions.append({"url": MIN_VALUE, "valueInteger": question.min_value})
        if question.max_value is not None:
            extensions.append({"url": MAX_VALUE, "valueInteger": question.max_value})
    if kind.has_max_length and question.max_length is not None:
        item["maxLength"] = question.max_length
    if question.condition_question:
        item["enableWhen"] = [_enable_when(slug, question, questions)]
        item["enableBehavior"] = "all"
    if question.help_text:
        item["item"] = [{
            "linkId": f"{question.code}.help", "text": question.help_text, "type": "display",
            "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {
                "coding": [{"system": ITEM_CONTROL_CODES, "code": "help", "display": "Help"}]}}],
        }]
    if extensions:
        item["extension"] = extensions
    return item


def _answer_option(slug: str, question: Question, choice) -> dict:
    option = {"valueCoding": {"system": choice_system(slug, question.code), "code": choice.value,
                              "display": choice.label}}
    if choice.is_exclusive:
        option["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
    return option


def _enable_when(slug: str, question: Question, questions: dict[str, Question]) -> dict:
    target = questions.get(question.condition_question)
    wanted = question.condition_answer
    condition = {"question": question.condition_question, "operator": "="}
    # A condition on a question the version lacks (only a draft can have one) reads as yes/no.
    kind = type_of(target if target is not None else Question.Type.BOOLEAN)
    if kind.has_choices:
        label = next((c.label for c in target.choices.all() if c.value == wanted), None)
        condition["answerCoding"] = _choice_coding(slug, target.code, wanted, label)
    else:
        condition.update(kind.fhir_enable_when(wanted))
    return condition


# --- QuestionnaireResponse ------------------------------------------------------------------


def patient(submission: Submission) -> dict:
    """The patient as a contained resource.  An anonymised submission's Patient is empty."""
    resource = {"resourceType": "Patient", "id": PATIENT_ID}
    if submission.full_name:
        resource["name"] = [{"text": submission.full_name}]
    telecom = []
    if submission.phone:
        telecom.append({"system": "phone", "value": submission.phone})
    if submission.email:
        telecom.append({"system": "email", "value": submission.email})
    if telecom:
        resource["telecom"] = telecom
    if submission.date_of_birth is not None:
        resource["birthDate"] = submission.date_of_birth.isoformat()
    return resource


def submission_identifier(submission: Submission) -> dict:
    return {"system": submission_system(), "value": submission.reference}


def response_reference(submission: Submission) -> dict:
    return {"reference": f"QuestionnaireResponse/{submission.reference}"}


def questionnaire_response(submission: Submission, version: QuestionnaireVersion) -> dict:
    """A submission; ``version`` is its questionnaire version with its sections, questions and
    choices loaded.  Answers are grouped like the questionnaire, with the question text as the
    patient saw it (the published version's, which never changes)."""
    slug = version.questionnaire.slug
    answers = submission.answers
    groups = []
    for n, section in enumerate(version.sections.all(), start=1):
        answered = [_answered_item(slug, q, answers[q.code]) for q in section.questions.all()
                    if q.code in answers]
        if answered:
            groups.append({"linkId": section_link_id(n), "text": section.title,
                           "item": answered})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": submission.reference,
        "contained": [patient(submission)],
        "identifier": submission_identifier(submission),
        "questionnaire": f"{questionnaire_url(slug)}|{version.number}",
        "status": "completed",
        "subject": {"reference": PATIENT_REFERENCE},
        "authored": instant(submission.submitted_at),
    }
    if groups:
        resource["item"] = groups
    return resource


def _answered_item(slug: str, question: Question, value) -> dict:
    kind = type_of(question)
    values = kind.to_fhir(value)
    if kind.has_choices:
        labels = {c.value: c.label for c in question.choices.all()}
        values = [_choice_coding(slug, question.code, v, labels.get(v)) for v in values]
    answers = [{kind.fhir_value: v} for v in values]
    return {"linkId": question.code, "text": question.text, "answer": answers}


def _choice_coding(slug: str, code: str, value: str, label: str | None) -> dict:
    coding = {"system": choice_system(slug, code), "code": value}
    if label:
        coding["display"] = label
    return coding


# --- Flag and RiskAssessment ----------------------------------------------------------------


def flags(submission: Submission) -> list[dict]:
    """Each of the submission's flags (loaded, in their order) as a Flag."""
    return [flag(submission, f, n) for n, f in enumerate(submission.flags.all(), start=1)]


def flag(submission: Submission, screening_flag: Flag, n: int) -> dict:
    tier = screening_flag.tier
    priority_code, priority_display = _PRIORITY.get(tier, ("PN", "No alarm"))
    category = _label(Category, screening_flag.category)
    tier_label = _label(Tier, tier)
    return {
        "resourceType": "Flag",
        "id": f"{submission.reference}-{n}",
        "contained": [patient(submission)],
        "extension": [
            {"url": FLAG_DETAIL, "valueReference": response_reference(submission)},
            {"url": FLAG_PRIORITY, "valueCodeableConcept": {"coding": [
                {"system": FLAG_PRIORITY_CODES, "code": priority_code,
                 "display": priority_display},
                {"system": code_system("urgency"), "code": tier, "display": tier_label},
            ], "text": tier_label}},
            evidence_extension(screening_flag),
        ],
        "status": "active",
        "category": [{"coding": [{"system": code_system("flag-category"),
                                  "code": screening_flag.category, "display": category}],
                      "text": category}],
        "code": {"coding": [{"system": code_system("screening-rule"),
                             "code": screening_flag.rule_code,
                             "display": screening_flag.display_title}],
                 "text": screening_flag.explanation},
        "subject": {"reference": PATIENT_REFERENCE},
        "period": {"start": instant(submission.submitted_at)},
    }


def evidence_extension(screening_flag: Flag) -> dict:
    """What made the rule fire, as one complex extension (``screening-evidence``): an ``answer``
    for each answer that counted (its ``linkId`` and each value), and a ``derived`` for each
    derived value (its name, title and value; a score's scored items; age's date of birth and
    submission date; free-text matches as term, group and field, never the text)."""
    parts = []
    for code, value in screening_flag.evidence.items():
        values = value if isinstance(value, list) else [value]
        parts.append({"url": "answer", "extension": [
            {"url": "linkId", "valueString": code},
            *({"url": "value", **_fhir_value(v)} for v in values if v is not None),
        ]})
    for derived in screening_flag.derived or ():
        details = [{"url": "name", "valueString": derived["name"]},
                   {"url": "title", "valueString": derived["title"]},
                   {"url": "value", **_fhir_value(derived["value"])}]
        details += [{"url": "item", "valueString":
                     f"{item['label']}: {item['points']} ({_BASIS.get(item['basis'], '')})"}
                    for item in derived.get("items", ())]
        details += [{"url": "match", "valueString":
                     f"“{match['term']}” ({match['group']}) in {match['field']}"}
                    for match in derived.get("matches", ())]
        if "date_of_birth" in derived:
            details += [{"url": "dateOfBirth", "valueDate": derived["date_of_birth"]},
                        {"url": "submittedOn", "valueDate": derived["submitted_on"]}]
        parts.append({"url": "derived", "extension": details})
    return {"url": f"{canonical_base()}/StructureDefinition/screening-evidence",
            "extension": parts}


_BASIS = {"answer": "patient answer", "proxy": "proxy for an examination finding"}


def _fhir_value(value) -> dict:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


RISK_OUTCOME = "A cause of the pain that needs prompt medical care (a red flag)"


def risk_assessment(submission: Submission, *, advice: str = "") -> dict:
    """The submission's urgency as a RiskAssessment based on its QuestionnaireResponse.

    ``advice``, when given, is what the patient was told (``mitigation``); it is given where
    the service has just told it, on submitting.
    """
    urgency = submission.urgency
    label = Submission.Urgency(urgency).label
    fired = [f"{f.rule_code} ({f.display_title})" for f in submission.flags.all()]
    rationale = (f"Red-flag rules that fired: {', '.join(fired)}." if fired
                 else "No red-flag rule fired.")
    if submission.age is not None:
        rationale += f" Age at submission: {submission.age}."
    resource = {
        "resourceType": "RiskAssessment",
        "id": submission.reference,
        "contained": [patient(submission)],
        "status": "preliminary" if submission.screening_failed else "final",
        "method": {"coding": [{"system": code_system("screening-method"),
                               "code": "red-flag-rules", "display": "Red-flag screening rules"}],
                   "text": "The clinic's red-flag screening rules"},
        "subject": {"reference": PATIENT_REFERENCE},
        "occurrenceDateTime": instant(submission.submitted_at),
        "basis": [response_reference(submission)],
        "prediction": [{
            "outcome": {"text": RISK_OUTCOME},
            "qualitativeRisk": {"coding": [{"system": code_system("urgency"), "code": urgency,
                                            "display": label}], "text": label},
            "rationale": rationale,
        }],
    }
    if advice:
        resource["mitigation"] = advice
    if submission.screening_failed:
        resource["note"] = [{"text": "Screening could not run on these answers; the intake is "
                                     "treated as urgent until a clinician has reviewed it."}]
    return resource


# --- Bundles and OperationOutcome -----------------------------------------------------------


def searchset(entries: list[tuple[dict, str | None]], self_url: str) -> dict:
    """A search result: ``entries`` are (resource, its full URL or None)."""
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
              "link": [{"relation": "self", "url": self_url}]}
    if entries:
        bundle["entry"] = [_entry(resource, url, search=True) for resource, url in entries]
    return bundle


def collection(entries: list[tuple[dict, str | None]]) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [_entry(resource, url) for resource, url in entries]}


def _entry(resource: dict, url: str | None, *, search: bool = False) -> dict:
    entry = {}
    if url:
        entry["fullUrl"] = url
    entry["resource"] = resource
    if search:
        entry["search"] = {"mode": "match"}
    return entry


@dataclass(frozen=True)
class Issue:
    """One problem for an OperationOutcome.  ``code`` is from FHIR's issue-type codes
    (invalid, structure, required, value, not-supported, business-rule, not-found, ...);
    ``expression`` names the element at fault, e.g. ``QuestionnaireResponse.item[0].item[2]``."""

    text: str
    code: str = "invalid"
    expression: list[str] = field(default_factory=list)
    severity: str = "error"


def operation_outcome(issues: list[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [_issue(i) for i in issues]}


def _issue(issue: Issue) -> dict:
    result = {"severity": issue.severity, "code": issue.code, "details": {"text": issue.text}}
    if issue.expression:
        result["expression"] = list(issue.expression)
    return result
