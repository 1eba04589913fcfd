"""Admin for rule sets: edit drafts (conditions are checked on save, errors shown on the field),
dry-run a rule set against recent submissions, activate a draft, start a new draft from any
rule set, and see who changed which rule when.

Active and retired rule sets are read-only here, as in the models and services: editing the
rules means creating a new draft.  The pages are entry points only; the work is done by
``screening.services``.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import AuditedAdmin, record_admin_change
from intake.models import Questionnaire
from screening import activation, rule_builder, safety, services
from screening.models import (
    DerivedValue,
    FreeTextTerm,
    Rule,
    RuleSet,
    SafetyCase,
    ScoreItem,
)

DRY_RUN_DEFAULT = 100
DRY_RUN_MAX = 1000

_TEXTAREA = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 100})}}


class HistoryWithoutRevertMixin:
    """History is for reading: reverting would bypass drafts (and fail on an active set)."""

    def revert_disabled(self, request, obj=None):
        return True

    def has_change_history_permission(self, request, obj=None):
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class DraftOnlyInline:
    """An inline of a rule set's parts: editable only while the rule set is a draft."""

    def _editable(self, obj) -> bool:
        return obj is None or obj.is_draft

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class DerivedValueInline(DraftOnlyInline, admin.TabularInline):
    """The values rules may use besides the answers, in the order they are worked out.  A
    score's items and points are edited on the derived value's own page (the link)."""

    model = DerivedValue
    extra = 0
    fields = ["position", "name", "title", "kind", "condition", "description"]
    formfield_overrides = _TEXTAREA
    ordering = ["position", "name"]
    show_change_link = True
    verbose_name_plural = ("derived values (rules may use these names, and the built-in "
                           "age and free_text_match)")


def _vocabulary(request, rule_set: RuleSet) -> list[dict]:
    """``services.rule_vocabulary``, once per request (the page and each form ask for it)."""
    known = request.__dict__.setdefault("_rule_vocabularies", {})
    if rule_set.pk not in known:
        known[rule_set.pk] = services.rule_vocabulary(rule_set)
    return known[rule_set.pk]


class ConditionTextarea(forms.Textarea):
    """The condition's expression, with what the rule builder needs to show it: its groups and
    conditions (``data-built``) when the builder could have written it, else why not
    (``data-unreadable``), read by ``screening.rule_builder`` against ``vocabulary``."""

    vocabulary = None

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if self.vocabulary and value and str(value).strip():
            reading = rule_builder.read_condition(str(value), self.vocabulary)
            widget_attrs = context["widget"]["attrs"]
            if "built" in reading:
                widget_attrs["data-built"] = json.dumps(reading["built"])
            else:
                widget_attrs["data-unreadable"] = reading["unreadable"]
        return context


class RuleForm(forms.ModelForm):
    """A rule's form: besides the field checks, its condition must fit the rule set's questions,
    choices and derived values (``services.check_rule``), the message going on the condition.

    The condition is what the rule builder (static/js/rule-builder.js) writes from the
    questions, operators and values chosen; typed or built, it is checked the same way.
    ``vocabulary`` (set by the admin for a draft's rules) lets the builder show a condition
    already written."""

    vocabulary = None

    class Meta:
        model = Rule
        fields = ["rule_set", "code", "title", "category", "tier", "enabled", "position",
                  "condition", "explanation"]
        widgets = {"condition": ConditionTextarea(attrs={"rows": 2, "cols": 100,
                                                         "class": "rule-expression"})}
        labels = {"condition": "Condition (the expression)"}
        help_texts = {"condition": "Build it above by choosing questions, operators and "
                      "values; or type it in the rule language."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "condition" in self.fields:
            self.fields["condition"].widget.vocabulary = self.vocabulary

    def clean(self):
        cleaned = super().clean()
        rule = Rule(rule_set_id=self.instance.rule_set_id, condition=cleaned.get("condition"))
        rule_set = cleaned.get("rule_set") or self.instance.rule_set_or_none()
        if rule_set is not None:
            rule.rule_set = rule_set
        try:
            services.check_rule(rule)
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


class RuleInline(DraftOnlyInline, admin.StackedInline):
    model = Rule
    form = RuleForm
    extra = 0
    fields = [("code", "title", "category", "tier", "enabled", "position"), "condition",
              "explanation"]
    formfield_overrides = _TEXTAREA
    ordering = ["position", "code"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and obj.is_draft:
            formset.form.vocabulary = _vocabulary(request, obj)
        return formset


class FreeTextTermInline(DraftOnlyInline, admin.TabularInline):
    """The words and phrases ``free_text_match`` looks for in the patient's own text."""

    model = FreeTextTerm
    extra = 0
    fields = ["group", "term"]
    ordering = ["group", "term"]
    verbose_name_plural = "free-text terms (free_text_match)"


class ScoreItemInline(DraftOnlyInline, admin.TabularInline):
    model = ScoreItem
    extra = 0
    fields = ["position", "label", "condition", "points", "basis"]
    formfield_overrides = _TEXTAREA
    ordering = ["position"]

    def _editable(self, obj) -> bool:
        return obj is None or obj.rule_set.is_draft


class RuleSetPartAdmin(AuditedAdmin, HistoryWithoutRevertMixin, SimpleHistoryAdmin):
    """A part of a rule set on a page of its own (for its history and details): added in its
    rule set, changed only while the rule set is a draft."""

    readonly_fields = ["rule_set"]
    formfield_overrides = _TEXTAREA

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule_set")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.rule_set.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.rule_set.is_draft:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(DerivedValue)
class DerivedValueAdmin(RuleSetPartAdmin):
    """A derived value with its score items, for clinicians to review; edit it while its
    rule set is a draft."""

    list_display = ["name", "title", "kind", "rule_set"]
    list_filter = ["rule_set__status", "kind"]
    fields = ["rule_set", "position", "name", "title", "kind", "condition", "description"]
    inlines = [ScoreItemInline]


class SignOffForm(forms.Form):
    reason = forms.CharField(
        label="Why is this rule set safe to go live?", widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000, help_text="Your sign-off as clinical safety officer: what changed, what "
        "you checked. It is kept with the results below.",
    )
    acknowledge_warnings = forms.BooleanField(
        label="I have read the warnings above and accept them", required=False,
    )


class DryRunForm(forms.Form):
    limit = forms.IntegerField(
        label="Most recent submissions to screen",
        min_value=1,
        max_value=DRY_RUN_MAX,
        initial=DRY_RUN_DEFAULT,
    )


@admin.register(RuleSet)
class RuleSetAdmin(AuditedAdmin, HistoryWithoutRevertMixin, SimpleHistoryAdmin):
    list_display = ["__str__", "questionnaire", "questionnaire_version", "status",
                    "enabled_rules", "activated_at"]
    list_filter = ["status", "questionnaire"]
    inlines = [DerivedValueInline, RuleInline, FreeTextTermInline]
    fields = ["questionnaire", "questionnaire_version", "version", "status", "notes",
              "based_on", "created_at", "activated_at", "retired_at"]
    formfield_overrides = _TEXTAREA
    actions = ["activate_action", "dry_run_action", "new_draft_action"]
    change_form_template = "admin/screening/ruleset/change_form.html"

    @admin.display(description="enabled rules")
    def enabled_rules(self, obj):
        return obj.rules.filter(enabled=True).count()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "questionnaire", "questionnaire_version"
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = ["questionnaire", "version", "status", "based_on", "created_at",
                    "activated_at", "retired_at"]
        if obj is not None and not obj.is_draft:
            readonly += ["questionnaire_version", "notes"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Viewing an active or retired set stays possible (view permission); changing it not.
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return False
        return super().has_delete_permission(request, obj)

    def has_activate_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.activate_{opts.model_name}")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if not change:
                obj.version = services.next_version_number(obj.questionnaire_id)
            super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rule_set = self.get_object(request, object_id)
        extra = {}
        if rule_set is not None:
            latest = (rule_set.questionnaire.versions.published().order_by("-number").first()
                      if rule_set.is_draft else None)
            extra = {
                "rule_vocabulary": _vocabulary(request, rule_set) if rule_set.is_draft
                else [],
                "rule_builder_grammar": rule_builder.GRAMMAR,
                # A draft still checked against an older questionnaire version than the one
                # patients answer: said at the top, before its rules are judged against it.
                "newer_version": latest if latest is not None
                and latest.pk != rule_set.questionnaire_version_id else None,
            }
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), **extra})

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/dry-run/", view(self.dry_run_view),
                 name=f"{prefix}_dry_run"),
            path("<path:object_id>/activate/", view(self.activate_view),
                 name=f"{prefix}_activate"),
            path("<path:object_id>/new-draft/", view(self.new_draft_view),
                 name=f"{prefix}_new_draft"),
            path("<path:object_id>/rule-history/", view(self.rule_history_view),
                 name=f"{prefix}_rule_history"),
            *super().get_urls(),
        ]

    def _url(self, name: str, rule_set: RuleSet) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
                       args=[rule_set.pk])

    def _only_one(self, request, queryset) -> RuleSet | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one rule set.", messages.WARNING)
            return None
        return queryset.get()

    # --- Actions: each sends the admin to the page for the one chosen rule set.

    @admin.action(description="Activate the selected draft", permissions=["activate"])
    def activate_action(self, request, queryset):
        rule_set = self._only_one(request, queryset)
        return rule_set and HttpResponseRedirect(self._url("activate", rule_set))

    @admin.action(description="Dry run against recent submissions", permissions=["view"])
    def dry_run_action(self, request, queryset):
        rule_set = self._only_one(request, queryset)
        return rule_set and HttpResponseRedirect(self._url("dry_run", rule_set))

    @admin.action(description="New draft from the selected rule set", permissions=["add"])
    def new_draft_action(self, request, queryset):
        rule_set = self._only_one(request, queryset)
        return rule_set and HttpResponseRedirect(self._url("new_draft", rule_set))

    # --- Pages.

    def _context(self, request, rule_set, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": rule_set,
            "rule_set": rule_set,
            "title": title,
            "change_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[rule_set.pk]
            ),
            **extra,
        }

    def _rule_set(self, request, object_id) -> RuleSet:
        rule_set = get_object_or_404(
            RuleSet.objects.select_related("questionnaire", "questionnaire_version"),
            pk=object_id,
        )
        if not self.has_view_permission(request, rule_set):
            raise PermissionDenied
        return rule_set

    def dry_run_view(self, request, object_id):
        rule_set = self._rule_set(request, object_id)
        form = DryRunForm(request.GET or None, initial={"limit": DRY_RUN_DEFAULT})
        report = None
        rules_changed = []
        if form.is_bound and form.is_valid():
            report = services.dry_run(rule_set, limit=form.cleaned_data["limit"])
            rules = {rule.code: rule for rule in rule_set.rules.all()}
            rules_changed = [
                {"code": code, "rule": rules.get(code), "added": added, "removed": removed}
                for code, added, removed in report.by_rule
            ]
        return TemplateResponse(
            request,
            "admin/screening/ruleset/dry_run.html",
            self._context(request, rule_set, f"Dry run: {rule_set}", form=form, report=report,
                          rules_changed=rules_changed),
        )

    def activate_view(self, request, object_id):
        rule_set = self._rule_set(request, object_id)
        if not self.has_activate_permission(request):
            raise PermissionDenied
        form = SignOffForm(request.POST or None)
        check = activation.check_activation(rule_set)
        refusals = []
        if request.method == "POST" and form.is_valid() and not check.blocked:
            try:
                activation.activate_rule_set(
                    rule_set, by=request.user, reason=form.cleaned_data["reason"],
                    acknowledge_warnings=form.cleaned_data["acknowledge_warnings"])
            except ValidationError as error:
                refusals = error.messages
            else:
                record_admin_change(request, f"signed off and activated {rule_set}")
                self.message_user(request, f"{rule_set} is now active.", messages.SUCCESS)
                return HttpResponseRedirect(self._url("change", rule_set))
        replaced = RuleSet.objects.filter(
            questionnaire_id=rule_set.questionnaire_id, status=RuleSet.Status.ACTIVE
        ).exclude(pk=rule_set.pk).first()
        return TemplateResponse(
            request,
            "admin/screening/ruleset/activate.html",
            self._context(request, rule_set, f"Sign off and activate {rule_set}?", check=check,
                          form=form, refusals=refusals, replaced=replaced),
        )

    def new_draft_view(self, request, object_id):
        rule_set = self._rule_set(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            draft = services.create_draft_from(rule_set, by=request.user)
            record_admin_change(request, f"created draft {draft} from {rule_set}")
            self.message_user(request, f"Created {draft} from version {rule_set.version}.",
                              messages.SUCCESS)
            return HttpResponseRedirect(self._url("change", draft))
        return TemplateResponse(
            request,
            "admin/screening/ruleset/new_draft.html",
            self._context(request, rule_set, f"New draft from {rule_set}?"),
        )

    def rule_history_view(self, request, object_id):
        rule_set = self._rule_set(request, object_id)
        records = list(
            Rule.history.filter(rule_set_id=rule_set.pk)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:500]
        )
        changes = []
        for record in records:
            previous = record.prev_record
            changed = (
                [change.field for change in record.diff_against(previous).changes]
                if previous is not None else []
            )
            changes.append({"record": record, "changed": changed})
        return TemplateResponse(
            request,
            "admin/screening/ruleset/rule_history.html",
            self._context(request, rule_set, f"Rule changes: {rule_set}", changes=changes),
        )


@admin.register(Rule)
class RuleAdmin(RuleSetPartAdmin):
    """Every rule of every rule set with its history; a rule of a draft is edited here with the
    rule builder (or in its rule set), and added here from its draft rule set's page."""

    form = RuleForm
    list_display = ["code", "title", "rule_set", "category", "tier", "enabled"]
    list_filter = ["rule_set__status", "tier", "category"]
    search_fields = ["code", "condition", "explanation"]
    fieldsets = [
        (None, {"fields": ["rule_set", ("code", "title"), ("tier", "category"),
                           ("enabled", "position")]}),
        ("When it fires", {"fields": ["condition"],
                           "description": "Choose a question (or a value such as age), how to "
                           "compare it and the answer; group conditions with “all of” or “any "
                           "of”. The expression below is written for you."}),
        ("What the clinician reads", {"fields": ["explanation"]}),
    ]
    change_form_template = "admin/screening/rule/change_form.html"

    def has_add_permission(self, request):
        # Rules are added to a draft (get_form offers drafts only); the parts of an active or
        # retired set stay frozen.
        return admin.ModelAdmin.has_add_permission(self, request)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["rule_set"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        rule_set_field = form.base_fields.get("rule_set")
        if rule_set_field is not None:
            rule_set_field.queryset = RuleSet.objects.filter(status=RuleSet.Status.DRAFT)
            rule_set_field.help_text = "Rules are added to a draft rule set."
        rule_set = self._rule_set_of(request, obj)
        if rule_set is not None and rule_set.is_draft:
            form.vocabulary = _vocabulary(request, rule_set)
        return form

    def _rule_set_of(self, request, obj) -> RuleSet | None:
        """The rule set of the rule on the page: its own, or the one an added rule goes to."""
        if obj is not None:
            return obj.rule_set
        chosen = str(request.GET.get("rule_set", ""))
        return RuleSet.objects.filter(pk=chosen if chosen.isdigit() else None).select_related(
            "questionnaire_version").first()

    def _builder_context(self, request, obj) -> dict:
        rule_set = self._rule_set_of(request, obj)
        return {"rule_vocabulary": _vocabulary(request, rule_set) if rule_set else [],
                "rule_builder_grammar": rule_builder.GRAMMAR, "rule_set": rule_set}

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **self._builder_context(request, None)}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **self._builder_context(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Added the rule “{obj.code}” to {obj.rule_set}.",
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:screening_ruleset_change",
                                            args=[obj.rule_set_id]))

    def response_change(self, request, obj):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_change(request, obj)
        self.message_user(request, f"Saved the rule “{obj.code}”.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:screening_ruleset_change",
                                            args=[obj.rule_set_id]))


class SafetyCaseImportForm(forms.Form):
    questionnaire = forms.ModelChoiceField(queryset=Questionnaire.objects.all())
    file = forms.FileField(
        label="JSON file", help_text="A list of cases, as the export gives them (or the "
        "specification's vignettes file). Cases with a name that exists are updated.")


@admin.register(SafetyCase)
class SafetyCaseAdmin(AuditedAdmin, HistoryWithoutRevertMixin, SimpleHistoryAdmin):
    """Clinical safety cases: every activation runs them (``screening.activation``)."""

    list_display = ["name", "questionnaire", "age", "expected_urgency", "enabled", "description"]
    list_filter = ["questionnaire", "expected_urgency", "enabled"]
    search_fields = ["name", "description", "source"]
    fields = ["questionnaire", "name", "enabled", "description", "note", "source", "age",
              "answers", "expected_urgency", "expected_flags"]
    formfield_overrides = _TEXTAREA
    actions = ["export_action"]
    change_list_template = "admin/screening/safetycase/change_list.html"

    @admin.action(description="Export the selected cases as JSON", permissions=["view"])
    def export_action(self, request, queryset):
        cases = [{name: getattr(case, name) for name in safety.FIELDS}
                 for case in queryset.order_by("name")]
        response = HttpResponse(safety.dumps(cases), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="safety-cases.json"'
        return response

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("import/", view(self.import_view),
                     name="screening_safetycase_import"), *super().get_urls()]

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = SafetyCaseImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            questionnaire = form.cleaned_data["questionnaire"]
            try:
                data = json.loads(form.cleaned_data["file"].read().decode("utf-8"))
                added, updated = safety.import_cases(questionnaire.pk, data, by=request.user)
            except (ValueError, UnicodeDecodeError):
                problems = ["The file is not JSON (UTF-8)."]
            except ValidationError as error:
                problems = error.messages
            else:
                record_admin_change(request, f"imported safety cases for {questionnaire}: "
                                             f"{added} added, {updated} updated")
                self.message_user(request, f"{added} cases added, {updated} updated.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:screening_safetycase_changelist"))
        return TemplateResponse(request, "admin/screening/safetycase/import.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "problems": problems, "title": "Import safety cases",
        })
