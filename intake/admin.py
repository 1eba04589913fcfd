"""The questionnaire admin, for clinic staff who write questionnaires but are not programmers.

How it is laid out:

- A *questionnaire* page lists its versions.
- A *version* page edits the version with its sections and questions (drag to reorder), each
  question's card with its choices (see "A question's choices inside its card" below); its
  buttons preview the form as a patient sees it, publish the draft, and start a new draft from
  it.  The same two actions are on the list of versions.
- A *question* page edits one question with its choices (drag to reorder).

A published version never changes (``intake.models.PublishedVersionGuard`` refuses it), so here
everything in a published version is view-only: nothing to edit, add or delete.  Publishing and
copying go through ``intake.services.questionnaires``; the forms here check a question with the
same ``question_problems`` that publishing uses, so a mistake shows up beside the field that
causes it, not later as a list when publishing.
"""

from adminsortable2.admin import (
    CustomInlineFormSet,
    SortableAdminBase,
    SortableStackedInline,
    SortableTabularInline,
)
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Prefetch
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from clinic.admin_audit import AuditedAdmin, record_admin_change
from clinic.models import Clinic
from core.admin_rows import LabelledRowsMixin
from intake.models import (
    Choice,
    PublishedVersionError,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
)
from intake.question_types import UNTYPED, type_of
from intake.services.publishing import publish_version
from intake.services.questionnaires import (
    code_from_text,
    create_draft_from,
    next_version_number,
    question_problems,
    version_problems,
)

# Field names in words an admin uses; also used to name a field in a message.
QUESTION_LABELS = {
    "section": "Section",
    "code": "Code",
    "text": "Question",
    "help_text": "Hint",
    "type": "Answer type",
    "required": "Required",
    "min_value": "Smallest answer",
    "max_value": "Largest answer",
    "max_length": "Most characters",
    "condition_question": "Show only if the answer to",
    "condition_answer": "is",
}

QUESTION_HELP = {
    "code": "Leave empty to have it made from the question when you save. Lower-case letters, "
    "digits and underscores, e.g. chest_pain. Screening rules and exports use it, so keep the "
    "same code for the same question; once the version is published it never changes.",
    "condition_question": "Leave empty to always show the question. Otherwise the code of a "
    "yes/no or choice question in this version.",
    "condition_answer": "true or false for a yes/no question; a choice value for a choice "
    "question.",
    "required": "Patients must answer it before they can send the form.",
}


def _is_published(obj) -> bool:
    """Whether ``obj`` (a version, or anything inside one) belongs to a published version."""
    return obj is not None and obj.pk is not None and obj.owning_version.is_published


class ReadOnlyWhenPublished:
    """Makes an admin or an inline view-only when its object belongs to a published version.

    For an inline, ``obj`` is the parent object (the version, or the question).
    """

    def has_change_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_delete_permission(request, obj)


class ReadOnlyInlineWhenPublished(ReadOnlyWhenPublished):
    def has_add_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_add_permission(request, obj)


class VersionContentAdmin(ReadOnlyWhenPublished, SortableAdminBase):
    """The admin of a version or of a question: view-only when published, with inlines that
    are drag-to-reorder except on a published version's page (plain read-only tables there)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id is not None:
            obj = self.get_object(request, unquote(object_id))
            if _is_published(obj):
                # Published while the page was open (or a crafted post): say so, save nothing.
                error = PublishedVersionError(obj.owning_version)
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if _is_published(obj):
            for inline in inlines:
                inline.template = (
                    "admin/edit_inline/stacked.html"
                    if isinstance(inline, admin.StackedInline)
                    else "admin/edit_inline/tabular.html"
                )
        return inlines

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        inline_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        if _is_published(obj):
            for inline_formset in inline_formsets:
                inline_formset.classes = " ".join(
                    name for name in inline_formset.classes.split() if name != "sortable"
                )
        return inline_formsets


def _add_problems(form, problems: dict[str, list[str]]) -> None:
    """Put each problem beside its field, or above the form when the field is not on it."""
    for field, field_messages in problems.items():
        if field in form.fields:
            form.add_error(field, field_messages)
        else:
            label = QUESTION_LABELS.get(field, field.replace("_", " ").capitalize())
            form.add_error(None, [f"{label}: {message}" for message in field_messages])


def _without_choice_count_problems(question, problems: dict[str, list[str]]) -> dict:
    """Drop the problems about a choice question's own choices.

    They are edited on the question's own page (where the choices formset checks them), so a
    form without the choices cannot judge them; publishing still refuses a version with them.
    """
    if type_of(question, default=UNTYPED).has_choices:
        problems.pop("type", None)
    return problems


class _NewQuestionAsTarget:
    """A question seen as the target of another's show-condition, with the choices it will
    have once this submit is saved (``choices``: a list of unsaved or saved ``Choice`` rows).

    By default it has none: a question added in this same submit has no saved choices, and
    Django refuses to look up related rows of an unsaved object.
    """

    def __init__(self, question, choices=()):
        self._question = question
        self._choices = list(choices)

    def __getattr__(self, name):
        return getattr(self._question, name)

    @property
    def choices(self):
        return _Rows(self._choices)


class _Rows:
    """Answers ``.all()`` like a related manager, with rows in hand."""

    def __init__(self, rows):
        self._rows = rows

    def all(self):
        return list(self._rows)


def _duplicate_code_message(code: str) -> str:
    return (f"Another question in this version also uses the code “{code}”. Each question "
            "needs its own code.")


def _reused_code_message(code: str) -> str:
    # Saving renames one row at a time, so taking over a code another row still has in the
    # database would break the unique code rule half-way through the save.
    return (f"Until this save, “{code}” is the code of another question. Save your other "
            "changes first, then use this code.")


# --- Sections and questions, edited on the version page --------------------------------------


class SectionFormSet(LabelledRowsMixin, CustomInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            section = form.instance
            if section.pk is None:
                continue
            codes = list(section.questions.values_list("code", flat=True))
            if codes:
                raise ValidationError(
                    f"The section “{section.title}” still has questions ({', '.join(codes)}). "
                    "Move them to another section or delete them, save, and then delete the "
                    "section."
                )


class SectionInline(ReadOnlyInlineWhenPublished, SortableTabularInline):
    model = Section
    formset = SectionFormSet
    fields = ("title", "question_count")
    readonly_fields = ("question_count",)
    ordering = ("position",)
    extra = 0
    verbose_name = "section"
    verbose_name_plural = "Sections (drag to reorder; each section is a heading on the form)"

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(number_of_questions=Count("questions"))

    @admin.display(description="Questions")
    def question_count(self, section):
        return getattr(section, "number_of_questions", None) or 0


class QuestionCodeOptional:
    """A question's code may be left empty: it is then made from the question's text when the
    form is saved (``code_from_text``), so nobody has to invent one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "code" in self.fields:
            self.fields["code"].required = False
            self.fields["code"].help_text = QUESTION_HELP["code"]


def _new_code(form, taken: set[str]) -> str | None:
    """The code made for a form whose code was left empty, or None when it has one (or no
    text to make one from)."""
    if form.cleaned_data.get("code") or not form.cleaned_data.get("text"):
        return None
    code = code_from_text(form.cleaned_data["text"], taken=taken)
    form.cleaned_data["code"] = code
    form.instance.code = code
    return code


# --- A question's choices inside its card ----------------------------------------------------
#
# Django's admin has no nested inlines, so each question's form carries its own formset of
# choices (``CardChoiceFormSet``, prefix ``<question's prefix>-choices``), rendered inside the
# card by the ``choices`` field's widget and saved after the question (``VersionQuestionFormSet
# .save``).  A choice's value is never typed there: it is made from the label when the choice is
# first saved and shown, not edited, afterwards.  static/js/admin-questions.js adds, removes and
# reorders the rows; without JavaScript a new question offers two empty rows and "Remove" is a
# checkbox.


class CardChoiceForm(forms.ModelForm):
    class Meta:
        model = Choice
        fields = ["label", "is_exclusive", "position"]
        labels = {"label": "What the patient reads", "is_exclusive": "Excludes the others"}
        widgets = {
            "label": forms.TextInput(attrs={"class": "choice-label", "size": 30}),
            # Filled in by the order of the rows (admin-questions.js).
            "position": forms.HiddenInput(attrs={"class": "choice-position"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False

    def has_changed(self):
        # A new row left without a label is ignored, whatever its position or tick.
        if self.instance.pk is None and not (self["label"].value() or "").strip():
            return False
        return super().has_changed()


class BaseCardChoiceFormSet(LabelledRowsMixin, forms.BaseInlineFormSet):
    """One question's choices on its card.  ``kept`` are the rows that will exist after the
    save, in their order, each with its value (made from the label for a new row)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            row = "new row" if index is None else f"row {index + 1}"
            form.fields["DELETE"].label = "Remove"
            form.fields["DELETE"].widget.attrs.update(
                {"class": "choice-remove", "aria-label": f"Remove, {row}"})

    @property
    def kept(self) -> list:
        forms_kept = [
            form for form in self.forms
            if hasattr(form, "cleaned_data") and not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]
        # In the order of the rows on the card (their positions), as the patient will see them.
        return sorted(forms_kept, key=lambda form: (
            form.cleaned_data.get("position") is None, form.cleaned_data.get("position") or 0))

    def clean(self):
        super().clean()
        kept = self.kept
        # Made unique against every value this question has, those being removed included, so
        # that a new choice never takes over the value a removed one had for rules and answers.
        taken = {form.instance.value for form in kept if form.instance.value}
        if self.instance.pk is not None:
            taken |= set(Choice.objects.filter(question=self.instance)
                         .values_list("value", flat=True))
        for number, form in enumerate(kept, start=1):
            if form.instance.pk is None and form.cleaned_data.get("label"):
                form.instance.value = code_from_text(
                    form.cleaned_data["label"], taken=taken, fallback="choice",
                    may_start_with_digit=True)
                taken.add(form.instance.value)
            if form.cleaned_data.get("position") is None:
                form.instance.position = number

    def get_queryset(self):
        # The version page loads every question's choices at once (QuestionInline.get_queryset).
        prefetched = getattr(self.instance, "_prefetched_objects_cache", {})
        if self.instance.pk is not None and "choices" in prefetched:
            return list(prefetched["choices"])
        return super().get_queryset()


CardChoiceFormSet = forms.inlineformset_factory(
    Question, Choice, form=CardChoiceForm, formset=BaseCardChoiceFormSet, extra=0,
    can_delete=True,
)


class ChoicesInCardWidget(forms.Widget):
    """Renders the card's choice formset (``formset``, set by the form) in the card."""

    template_name = "admin/intake/questionnaireversion/card_choices.html"
    formset = None
    editable = False

    def render(self, name, value, attrs=None, renderer=None):
        return render_to_string(self.template_name,
                                {"formset": self.formset, "editable": self.editable})

    def value_from_datadict(self, data, files, name):
        return None

    def id_for_label(self, id_):
        # The rows' own controls carry their labels; the field's label names the whole list.
        return None


class ChoicesInCardField(forms.Field):
    widget = ChoicesInCardWidget

    def __init__(self, **kwargs):
        super().__init__(required=False, label="Choices", **kwargs)

    def has_changed(self, initial, data):
        return False  # the card's formset says whether its choices changed


class VersionQuestionForm(QuestionCodeOptional, forms.ModelForm):
    """One question's card on the version page, with its choices (``self.choices``, a
    ``CardChoiceFormSet``) when the admin may edit them (``choices_editable``, set by
    ``QuestionInline.get_formset``).

    A card posted without its choices' management form (an older page, a script) leaves the
    saved choices as they are: ``choices_submitted`` is then False."""

    card_choices = ChoicesInCardField()
    choices_editable = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        prefix = f"{self.prefix}-choices"
        self.choices_submitted = (
            self.choices_editable and self.is_bound and f"{prefix}-TOTAL_FORMS" in self.data
        )
        self.choices = CardChoiceFormSet(
            data=self.data if self.choices_submitted else None, instance=self.instance,
            prefix=prefix, queryset=Choice.objects.order_by("position", "pk"),
        )
        if self.instance.pk is None:
            # Two empty rows for a new question, so a choice question can be written in one go
            # even without JavaScript (rows left empty are ignored).
            self.choices.extra = 2
        if "card_choices" in self.fields:
            widget = self.fields["card_choices"].widget
            widget.formset, widget.editable = self.choices, self.choices_editable

    # The card's choices are part of the card: it has changed when they have, and it is valid
    # only when they are (clinic.admin_audit reads nested_formsets for the before and after).
    @property
    def nested_formsets(self) -> list:
        return [self.choices] if self.choices_submitted else []

    def has_changed(self):
        return super().has_changed() or any(
            formset.has_changed() for formset in self.nested_formsets)

    def clean(self):
        cleaned_data = super().clean()
        # Every formset is checked (no short cut), so each shows its errors.
        if not all([formset.is_valid() for formset in self.nested_formsets]):  # noqa: C419
            self.add_error(None, "Check this question's choices below.")
        return cleaned_data

    def choice_rows(self) -> list | None:
        """The choices this question will have after the save, in order: the submitted ones,
        or None when they were not submitted."""
        if not self.choices_submitted:
            return None
        self.choices.is_valid()
        return [form.instance for form in self.choices.kept]

    class Meta:
        model = Question
        fields = ["section", "code", "text", "help_text", "type", "required", "min_value",
                  "max_value", "max_length", "condition_question", "condition_answer"]
        labels = QUESTION_LABELS
        help_texts = {
            "condition_question": "Leave empty to always show the question.",
            "condition_answer": "true or false for a yes/no question; a choice's value for a "
            "choice question.",
        }
        widgets = {
            "text": forms.Textarea(attrs={"rows": 2, "class": "question-text"}),
            "help_text": forms.Textarea(attrs={"rows": 2, "class": "question-help"}),
            # Offered as the version's questions by their text (get_formset); still a code
            # underneath, checked by question_problems like before.
            "condition_question": forms.Select(),
        }


def _rows_kept(formset) -> list:
    """The formset's rows that are to be saved, with their cleaned data: not deleted, and either
    saved before or filled in now (an empty extra row is not kept)."""
    return [
        form for form in formset.forms
        if not formset._should_delete_form(form) and hasattr(form, "cleaned_data")
        and (form.instance.pk is not None or form.has_changed())
    ]


class VersionQuestionFormSet(CustomInlineFormSet):
    """All questions of one version: checks codes and conditions across the rows together."""

    def clean(self):
        self._make_missing_codes()
        # Django's own cross-row uniqueness check (BaseModelFormSet.clean) is replaced by the
        # check below, which says which code is duplicated and puts it on the code field.
        kept = [form for form in _rows_kept(self) if "code" in form.cleaned_data]
        # Read now: adding an error to a field takes it out of cleaned_data.
        code_of = {form: form.cleaned_data["code"] for form in kept}
        forms_by_code: dict[str, list] = {}
        for form in kept:
            forms_by_code.setdefault(code_of[form], []).append(form)
        for code, same_code in forms_by_code.items():
            if len(same_code) > 1:
                for form in same_code:
                    form.add_error("code", _duplicate_code_message(code))
        codes_in_database = dict(
            Question.objects.filter(version=self.instance).values_list("code", "pk")
        ) if self.instance.pk else {}
        for form in kept:
            code = code_of[form]
            owner = codes_in_database.get(code)
            if len(forms_by_code[code]) == 1 and owner is not None and owner != form.instance.pk:
                form.add_error("code", _reused_code_message(code))

        # Each question as the target of a show-condition, with the choices it will have.
        choices_of = {form: form.choice_rows() for form in kept}
        questions_by_code = {
            form.instance.code: (
                _NewQuestionAsTarget(form.instance, choices_of[form])
                if choices_of[form] is not None
                else form.instance if form.instance.pk else _NewQuestionAsTarget(form.instance)
            )
            for form in kept
        }
        for form in kept:
            if form.errors:
                continue
            question = form.instance
            section = form.cleaned_data.get("section")
            if section is not None and section.version_id != self.instance.pk:
                form.add_error("section", "Choose a section of this version.")
            submitted = choices_of[form]
            if submitted is not None:
                choice_values = [choice.value for choice in submitted]
            else:
                choice_values = (
                    [choice.value for choice in question.choices.all()] if question.pk else []
                )
            problems = question_problems(
                question, choice_values=choice_values, questions_by_code=questions_by_code
            )
            _add_problems(form, problems if submitted is not None
                          else _without_choice_count_problems(question, problems))

    def save(self, commit=True):
        """Saves the questions, then each card's choices (a new question's once it has its
        id)."""
        saved = super().save(commit)
        if commit:
            for form in self.forms:
                if (form.choices_submitted and form.instance.pk is not None
                        and not self._should_delete_form(form)):
                    form.choices.instance = form.instance
                    form.choices.save()
        return saved

    def _make_missing_codes(self) -> None:
        """Each question saved without a code gets one made from its text, unique among the
        codes of this version (saved or typed in this submit)."""
        forms_kept = _rows_kept(self)
        taken = {form.cleaned_data.get("code") for form in forms_kept} - {None, ""}
        if self.instance.pk:
            taken |= set(Question.objects.filter(version=self.instance)
                         .values_list("code", flat=True))
        for form in forms_kept:
            code = _new_code(form, taken)
            if code:
                taken.add(code)


class QuestionInline(ReadOnlyInlineWhenPublished, SortableStackedInline):
    """The questions as cards in form order, each reading like the form: its text and hint,
    the answer type and choices, whether it is required, when it is shown; the code last."""

    model = Question
    fk_name = "version"
    form = VersionQuestionForm
    formset = VersionQuestionFormSet
    fieldsets = [
        (None, {"fields": ["section", "text", "help_text", "type", "card_choices",
                           "required"]}),
        ("Whole-number answers", {"fields": [("min_value", "max_value")],
                                  "classes": ["question-range"]}),
        ("Text answers", {"fields": ["max_length"], "classes": ["question-length"]}),
        ("Show only on an answer to another question", {
            "fields": [("condition_question", "condition_answer")],
        }),
        # The position is a hidden field that dragging a card fills in.
        ("Code (for rules and exports)", {"fields": ["code", "position"],
                                          "classes": ["question-code"]}),
    ]
    # adminsortable2 reads the drag-to-reorder field from the first ordering entry; the rows are
    # shown section by section (get_ordering), and dragging renumbers them all in that order.
    ordering = ("position",)
    extra = 0
    show_change_link = True
    verbose_name = "question"
    verbose_name_plural = (
        "Questions (in form order: drag to reorder within a section; change a question's "
        "section to move it)"
    )

    def get_ordering(self, request):
        return ("section__position", "section_id", "position", "pk")

    def get_queryset(self, request):
        # The section is read per row when the page is view-only; the choices for the summary.
        return super().get_queryset(request).select_related("section", "version").prefetch_related(
            Prefetch("choices", queryset=Choice.objects.order_by("position", "pk"))
        )

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # A card edits its question's choices when the admin may add, change and remove
        # choices, and the version is a draft (ReadOnlyWhenPublished).
        formset.form.choices_editable = not _is_published(obj) and all(
            request.user.has_perm(f"intake.{action}_choice")
            for action in ("add", "change", "delete")
        )
        section_field = formset.form.base_fields.get("section")
        if section_field is not None:
            # Only this version's sections; listed once for all rows instead of one query a row.
            sections = Section.objects.filter(version=obj) if obj else Section.objects.none()
            section_field.queryset = sections
            section_field.choices = [("", "---------")] + [
                (section.pk, section.title) for section in sections
            ]
            section_field.help_text = "New sections appear here once you save them."
        condition_field = formset.form.base_fields.get("condition_question")
        if condition_field is not None:
            # The version's questions by their text; the code is the value (question_problems
            # says when one cannot be waited for).  Every question is offered, so a saved
            # condition is always shown as it is and never lost by saving the page.
            targets = (
                Question.objects.filter(version=obj)
                .order_by("section__position", "position", "pk").values_list("code", "text")
                if obj else []
            )
            condition_field.widget.choices = [("", "Always show it")] + [
                (code, f"{text} ({code})") for code, text in targets
            ]
        return formset

    @admin.display(description="Choices")
    def card_choices(self, question):
        """The choices on a card that cannot be edited here (a published version's)."""
        rows = [(choice.label, choice.value) for choice in question.choices.all()]
        if not rows:
            return "None"
        return format_html(
            '<ul class="choice-list">{}</ul>',
            format_html_join("", '<li><span class="choice-label-shown">{}</span> '
                                 '<span class="choice-value">({})</span></li>', rows),
        )


# --- Versions --------------------------------------------------------------------------------


def _version_for_display(pk) -> QuestionnaireVersion:
    """A version with its sections, questions and choices loaded in four queries, as
    ``intake.selectors.current_version`` loads the published one."""
    return (
        QuestionnaireVersion.objects.select_related("questionnaire")
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("position", "pk")),
            Prefetch(
                "sections__questions",
                queryset=Question.objects.order_by("position", "pk").prefetch_related(
                    Prefetch("choices", queryset=Choice.objects.order_by("position", "pk"))
                ),
            ),
        )
        .get(pk=pk)
    )


def _version_link(version, *, otherwise: str) -> str:
    """A link to the questionnaire version's admin page, named as the version; ``otherwise``
    when there is no version to link to (None)."""
    if version is None:
        return otherwise
    return format_html('<a href="{}">{}</a>',
                       reverse("admin:intake_questionnaireversion_change", args=[version.pk]),
                       version)


class VersionForm(forms.ModelForm):
    class Meta:
        model = QuestionnaireVersion
        fields = ["questionnaire", "title", "introduction"]


@admin.register(QuestionnaireVersion)
class QuestionnaireVersionAdmin(AuditedAdmin, VersionContentAdmin, admin.ModelAdmin):
    form = VersionForm
    list_display = ("__str__", "title", "status", "created_at", "published_at")
    list_display_links = ("__str__",)
    list_filter = ("questionnaire", "status")
    list_select_related = ("questionnaire",)
    actions = ["publish_selected", "new_draft_from_selected", "delete_selected"]
    inlines = [SectionInline, QuestionInline]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {
                "fields": ("questionnaire", "title", "introduction"),
                "description": "The new version starts as a draft numbered after the "
                "questionnaire's latest version. Add its sections now; after saving, add "
                "its questions.",
            })]
        return [
            (None, {"fields": ("questionnaire", "number", "status", "title", "introduction")}),
            ("History", {"fields": ("based_on_link", "created_at", "published_at")}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("questionnaire", "number", "status", "based_on_link", "created_at",
                "published_at")

    def get_inlines(self, request, obj):
        # A question needs a section of its version, so questions come after the first save.
        return [SectionInline] if obj is None else [SectionInline, QuestionInline]

    @admin.display(description="Based on")
    def based_on_link(self, version):
        return _version_link(version.based_on, otherwise="Not copied from another version")

    def save_model(self, request, obj, form, change):
        if not change:
            with transaction.atomic():
                obj.number = next_version_number(obj.questionnaire_id)
                super().save_model(request, obj, form, change)
        else:
            super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        if any(key in request.POST for key in ("_continue", "_addanother", IS_POPUP_VAR)):
            return response
        # Questions can only be added once the version exists: carry on editing it.
        return HttpResponseRedirect(self._change_url(obj))

    # The buttons on the version page (templates/admin/intake/questionnaireversion/).

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/preview/", view(self.preview_view),
                 name="intake_questionnaireversion_preview"),
            path("<path:object_id>/publish/", view(self.publish_view),
                 name="intake_questionnaireversion_publish"),
            path("<path:object_id>/new-draft/", view(self.new_draft_view),
                 name="intake_questionnaireversion_new_draft"),
            *super().get_urls(),
        ]

    def _get_version(self, request, object_id) -> QuestionnaireVersion:
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404("There is no such questionnaire version.")
        if not self.has_view_or_change_permission(request, version):
            raise PermissionDenied
        return version

    def _change_url(self, version) -> str:
        return reverse("admin:intake_questionnaireversion_change", args=[version.pk])

    def preview_view(self, request, object_id):
        """The form exactly as a patient sees it, with nothing filled in."""
        version = _version_for_display(self._get_version(request, object_id).pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": version,
            "version": version,
            "values": {},
            "errors": {},
            # The patient page's header and footer name the clinic patients write to.
            "clinic": Clinic.objects.filter(is_default=True).first(),
        }
        return TemplateResponse(
            request, "admin/intake/questionnaireversion/preview.html", context
        )

    def publish_view(self, request, object_id):
        """GET: ask to confirm (publishing cannot be undone). POST: publish."""
        version = self._get_version(request, object_id)
        if version.is_published:
            self.message_user(
                request, f"Version {version.number} is already published.", messages.WARNING
            )
            return HttpResponseRedirect(self._change_url(version))
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        if request.method == "POST":
            self._publish(request, version)
            return HttpResponseRedirect(self._change_url(version))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": version,
            "version": version,
            "problems": version_problems(version),
            # intake.selectors.current_version serves the highest published number of the
            # questionnaire the settings name.
            "becomes_current": (
                version.questionnaire.slug == settings.INTAKE_QUESTIONNAIRE_SLUG
                and not version.questionnaire.versions.published()
                .filter(number__gt=version.number).exists()
            ),
            "title": f"Publish {version}?",
        }
        return TemplateResponse(
            request, "admin/intake/questionnaireversion/publish_confirmation.html", context
        )

    def new_draft_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self._get_version(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        draft = self._new_draft(request, version)
        return HttpResponseRedirect(self._change_url(draft))

    def _publish(self, request, version) -> bool:
        try:
            publish_version(version)
        except ValidationError as error:
            self.message_user(
                request,
                f"{version} was not published. Fix these problems and publish again:",
                messages.ERROR,
            )
            for problem in error.messages:
                # (The admin capitalises a message's first letter, which would garble a code.)
                self.message_user(request, f"To fix: {problem}", messages.ERROR)
            return False
        record_admin_change(request, f"published {version}")
        self.message_user(
            request,
            f"Published version {version.number} of “{version.questionnaire}”. It can no longer "
            "be changed; to change it, make a new draft from it.",
            messages.SUCCESS,
        )
        return True

    def _new_draft(self, request, version) -> QuestionnaireVersion:
        draft = create_draft_from(version)
        record_admin_change(request, f"created draft {draft} from version {version.number}")
        self.message_user(
            request,
            f"Version {draft.number} is a new draft copied from version {version.number}. "
            "Patients do not see it until you publish it.",
            messages.SUCCESS,
        )
        return draft

    # The same actions on the list of versions.

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish_selected(self, request, queryset):
        for version in queryset.select_related("questionnaire").order_by("pk"):
            if version.is_published:
                self.message_user(request, f"{version} is already published.", messages.WARNING)
            else:
                self._publish(request, version)

    @admin.action(description="New draft from the selected version", permissions=["add"])
    def new_draft_from_selected(self, request, queryset):
        versions = list(queryset.select_related("questionnaire").order_by("pk"))
        drafts = [self._new_draft(request, version) for version in versions]
        if len(drafts) == 1:
            return HttpResponseRedirect(self._change_url(drafts[0]))
        return None

    # Named like Django's own action, which it replaces, so that Django's confirmation page
    # (which posts back to "delete_selected") comes back here.
    @admin.action(description="Delete the selected drafts", permissions=["delete"])
    def delete_selected(self, request, queryset):
        published = [str(version) for version in queryset.published()]
        if published:
            self.message_user(
                request,
                f"Nothing was deleted: {', '.join(published)} "
                f"{'is' if len(published) == 1 else 'are'} published, and a published version "
                "is kept for good. Select drafts only.",
                messages.ERROR,
            )
            return None
        return django_delete_selected(self, request, queryset)


# --- Questionnaires --------------------------------------------------------------------------


@admin.register(Questionnaire)
class QuestionnaireAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("name", "slug", "version_count", "latest_published")
    search_fields = ("name", "slug")
    readonly_fields = ("version_list",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(number_of_versions=Count("versions"))

    def get_fields(self, request, obj=None):
        return ("name", "slug") if obj is None else ("name", "slug", "version_list")

    def get_readonly_fields(self, request, obj=None):
        # The slug names the questionnaire in settings, URLs and exports: fixed once created.
        return ("version_list",) if obj is None else ("slug", "version_list")

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}

    @admin.display(description="Versions", ordering="number_of_versions")
    def version_count(self, questionnaire):
        return questionnaire.number_of_versions

    @admin.display(description="Latest published")
    def latest_published(self, questionnaire):
        latest = questionnaire.versions.published().order_by("-number").first()
        if latest is None:
            return "None yet"
        return format_html(
            '<a href="{}">Version {}</a>',
            reverse("admin:intake_questionnaireversion_change", args=[latest.pk]),
            latest.number,
        )

    @admin.display(description="Versions")
    def version_list(self, questionnaire):
        versions = questionnaire.versions.order_by("-number")
        rows = format_html_join(
            "",
            '<li><a href="{}">Version {}</a> ({}): {}{}</li>',
            (
                (
                    reverse("admin:intake_questionnaireversion_change", args=[version.pk]),
                    version.number,
                    version.get_status_display().lower(),
                    version.title,
                    f" (published {version.published_at:%d %b %Y})"
                    if version.published_at else "",
                )
                for version in versions
            ),
        )
        add_url = reverse("admin:intake_questionnaireversion_add")
        return format_html(
            '<ul class="questionnaire-versions">{}</ul><p><a href="{}?questionnaire={}" '
            'class="addlink">Add an empty draft version</a> (to change a published version, '
            "open it and use “New draft from this version”)</p>",
            rows or format_html("<li>No versions yet.</li>"),
            add_url,
            questionnaire.pk,
        )


# --- Questions, with their choices -----------------------------------------------------------


class ChoiceFormSet(LabelledRowsMixin, CustomInlineFormSet):
    """A question's choices, checked together with the question they belong to."""

    def clean(self):
        question = self.instance  # already carries the values submitted for the question
        self._make_missing_values()
        kept = [form for form in _rows_kept(self) if "value" in form.cleaned_data]
        values = [form.cleaned_data["value"] for form in kept]
        for form in kept:
            value = form.cleaned_data["value"]
            if values.count(value) > 1:
                form.add_error("value", f"Another choice of this question also has the value "
                                        f"“{value}”. Each choice needs its own value.")
            elif question.pk is not None and Choice.objects.filter(
                question=question, value=value
            ).exclude(pk=form.instance.pk).exists():
                form.add_error("value", f"Until this save, “{value}” is the value of another "
                                        "choice. Save your other changes first, then use it.")
        if question.type:
            problems = question_problems(question, choice_values=values, questions_by_code={})
            if problems.get("type"):
                raise ValidationError(problems["type"])
        self._check_conditions_still_offered(question, set(values))

    def _make_missing_values(self) -> None:
        """A choice saved without a value gets one made from what the patient reads."""
        kept = _rows_kept(self)
        taken = {form.cleaned_data.get("value") for form in kept} - {None, ""}
        for form in kept:
            if form.cleaned_data.get("value") or not form.cleaned_data.get("label"):
                continue
            value = code_from_text(form.cleaned_data["label"], taken=taken, fallback="choice",
                                   may_start_with_digit=True)
            form.cleaned_data["value"] = form.instance.value = value
            taken.add(value)

    def _check_conditions_still_offered(self, question, values: set[str]) -> None:
        """Refuse to remove a choice that another question's show-condition waits for."""
        if question.pk is None or not type_of(question, default=UNTYPED).has_choices:
            return
        saved_code = Question.objects.filter(pk=question.pk).values_list("code", flat=True).get()
        dependants = Question.objects.filter(
            version=question.version_id, condition_question=saved_code
        ).exclude(pk=question.pk)
        problems = [
            f"Question “{dependant.code}” is shown only when the answer is "
            f"“{dependant.condition_answer}”: keep that choice, or change that question first."
            for dependant in dependants
            if dependant.condition_answer not in values
        ]
        if problems:
            raise ValidationError(problems)


class ChoiceInline(ReadOnlyInlineWhenPublished, SortableTabularInline):
    model = Choice
    formset = ChoiceFormSet
    fields = ("label", "value", "is_exclusive")
    ordering = ("position",)
    extra = 0
    verbose_name = "choice"
    verbose_name_plural = (
        "Choices (only for “One choice” and “Several choices” questions; drag to reorder)"
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        labels = {"label": "What the patient reads", "value": "Value (code)",
                  "is_exclusive": "Excludes the others"}
        if field is not None and db_field.name in labels:
            field.label = labels[db_field.name]
        if field is not None and db_field.name == "value":
            # Made from the label on save when left empty (ChoiceFormSet).
            field.required = False
            field.help_text = "Leave empty: it is made from the label when you save."
        return field

    def get_extra(self, request, obj=None, **kwargs):
        return 2 if obj is None else 0


class SectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, section):
        return f"{section.version}: {section.title}"


class QuestionForm(QuestionCodeOptional, forms.ModelForm):
    class Meta:
        model = Question
        fields = ["section", "code", "text", "help_text", "type", "required", "min_value",
                  "max_value", "max_length", "condition_question", "condition_answer"]
        labels = QUESTION_LABELS
        help_texts = QUESTION_HELP
        field_classes = {"section": SectionChoiceField}
        widgets = {
            "text": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "help_text": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }

    def clean(self):
        cleaned_data = super().clean()
        section = cleaned_data.get("section")
        if section is None:
            return cleaned_data
        # A question belongs to the version of its section.
        version = section.version
        self.instance.version = version
        others = list(
            Question.objects.filter(version=version).exclude(pk=self.instance.pk)
            .prefetch_related("choices")
        )
        _new_code(self, {other.code for other in others})
        code = cleaned_data.get("code")
        if code and any(other.code == code for other in others):
            self.add_error("code", _duplicate_code_message(code))
            return cleaned_data
        submitted = Question(pk=self.instance.pk, version=version, **cleaned_data)
        questions_by_code = {other.code: other for other in others}
        # This question's own choices are checked by the choices formset below the form.
        problems = question_problems(
            submitted, choice_values=[], questions_by_code=questions_by_code
        )
        problems.pop("type", None)
        _add_problems(self, problems)
        if self.instance.pk is not None:
            self._check_dependants(submitted, others, questions_by_code)
        return cleaned_data

    def _check_dependants(self, submitted, others, questions_by_code) -> None:
        """A change of code or type must not break the questions shown on this one's answer.

        Only those two changes are checked here: a condition that was already broken must not
        stop an admin from saving the very change that mends it (a new choice, say), and the
        choices are checked by the choices formset.
        """
        saved = Question.objects.get(pk=self.instance.pk)
        if (submitted.code, submitted.type) == (saved.code, saved.type):
            return
        questions_by_code = {**questions_by_code, submitted.code: _Resubmitted(submitted, saved)}
        for other in others:
            if other.condition_question != saved.code:
                continue
            problems = question_problems(
                other, choice_values=[], questions_by_code=questions_by_code
            )
            for message in problems.get("condition_question", []) + problems.get(
                "condition_answer", []
            ):
                field = "code" if submitted.code != saved.code else "type"
                if field in self.fields:
                    self.add_error(
                        field,
                        f"Question “{other.code}” is shown only on an answer to this one: "
                        f"{message} Change that question's condition first.",
                    )


class _Resubmitted(_NewQuestionAsTarget):
    """The question being edited, with its submitted values and its saved choices."""

    def __init__(self, submitted, saved):
        super().__init__(submitted)
        self._saved = saved

    @property
    def choices(self):
        return self._saved.choices


@admin.register(Question)
class QuestionAdmin(AuditedAdmin, VersionContentAdmin, admin.ModelAdmin):
    form = QuestionForm
    inlines = [ChoiceInline]
    list_display = ("code", "text", "type", "required", "section", "version")
    list_display_links = ("code", "text")
    list_filter = ("version__questionnaire", "version__status", "type", "required")
    list_select_related = ("version__questionnaire", "section")
    search_fields = ("code", "text")
    actions = ["delete_selected"]
    fieldsets = [
        (None, {"fields": ("version_link", "section", "code", "text", "help_text", "type",
                           "required")}),
        ("Whole-number questions", {"fields": ("min_value", "max_value")}),
        ("Text questions", {"fields": ("max_length",)}),
        ("Show this question only on an answer to another", {
            "fields": ("condition_question", "condition_answer"),
            "description": "For a follow-up question, e.g. show “What happened?” only if the "
            "answer to recent_trauma is true. A follow-up question cannot be required.",
        }),
    ]
    readonly_fields = ("version_link",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        section_field = form.base_fields.get("section")
        if section_field is not None:
            sections = Section.objects.select_related("version__questionnaire")
            if obj is not None:
                section_field.queryset = sections.filter(version=obj.version_id)
                section_field.help_text = "A section of this question's version."
            else:
                section_field.queryset = sections.filter(
                    version__status=QuestionnaireVersion.Status.DRAFT
                )
                section_field.help_text = (
                    "Questions can be added to draft versions only; the question joins the "
                    "version of the section you choose."
                )
        return form

    @admin.display(description="Version")
    def version_link(self, question):
        # Not until it is saved: the add form's question has its section's version only once
        # the form is checked.
        return _version_link(question.version if question.pk is not None else None,
                             otherwise="The version of the section you choose.")

    def save_model(self, request, obj, form, change):
        if not change:
            # New questions go to the end of their section (drag them on the version page).
            latest = Question.objects.filter(version=obj.version).aggregate(
                latest=Max("position")
            )["latest"]
            obj.position = (latest or 0) + 1
        super().save_model(request, obj, form, change)

    # Replaces Django's own action of the same name (see QuestionnaireVersionAdmin).
    @admin.action(description="Delete the selected questions (drafts only)",
                  permissions=["delete"])
    def delete_selected(self, request, queryset):
        published = sorted(
            {str(question.version) for question in
             queryset.filter(version__status=QuestionnaireVersion.Status.PUBLISHED)
             .select_related("version__questionnaire")}
        )
        if published:
            self.message_user(
                request,
                f"Nothing was deleted: some selected questions belong to {', '.join(published)}, "
                "and a published version is kept for good.",
                messages.ERROR,
            )
            return None
        return django_delete_selected(self, request, queryset)
# The admin of appointments and of translations live in their own modules; importing them
# registers them.
from intake import admin_appointments, admin_translations  # noqa: E402,F401
