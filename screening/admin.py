"""Admin for rule sets: edit drafts (conditions are checked on save, errors shown on the field),
dry-run a rule set against recent submissions, activate a draft, start a new draft from any
rule set, and see who changed which rule when.

Active and retired rule sets are read-only here, as in the models and services: editing the
rules means creating a new draft.  The pages are entry points only; the work is done by
``screening.services``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import AuditedAdmin, record_admin_change
from intake.models import Questionnaire
from screening import services
from screening.models import DerivedValue, FreeTextTerm, Rule, RuleSet, ScoreItem

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


class RuleInline(DraftOnlyInline, admin.StackedInline):
    model = Rule
    extra = 0
    fields = [("code", "title", "category", "tier", "enabled", "position"), "condition",
              "explanation"]
    formfield_overrides = _TEXTAREA
    ordering = ["position", "code"]


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


@admin.register(DerivedValue)
class DerivedValueAdmin(AuditedAdmin, HistoryWithoutRevertMixin, SimpleHistoryAdmin):
    """A derived value with its score items, for clinicians to review; edit it while its
    rule set is a draft."""

    list_display = ["name", "title", "kind", "rule_set"]
    list_filter = ["rule_set__status", "kind"]
    fields = ["rule_set", "position", "name", "title", "kind", "condition", "description"]
    readonly_fields = ["rule_set"]
    inlines = [ScoreItemInline]
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
        if not change:
            # Lock the questionnaire so two admins cannot take the same number.
            Questionnaire.objects.select_for_update().get(pk=obj.questionnaire_id)
            obj.version = services.next_version_number(obj.questionnaire_id)
        super().save_model(request, obj, form, change)

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
        if form.is_bound and form.is_valid():
            report = services.dry_run(rule_set, limit=form.cleaned_data["limit"])
        return TemplateResponse(
            request,
            "admin/screening/ruleset/dry_run.html",
            self._context(request, rule_set, f"Dry run: {rule_set}", form=form, report=report),
        )

    def activate_view(self, request, object_id):
        rule_set = self._rule_set(request, object_id)
        if not self.has_activate_permission(request):
            raise PermissionDenied
        problems = [] if not rule_set.is_draft else services.activation_problems(rule_set)
        if request.method == "POST" and rule_set.is_draft and not problems:
            try:
                services.activate_rule_set(rule_set, by=request.user)
            except ValidationError as error:
                problems = error.messages
            else:
                record_admin_change(request, f"activated {rule_set}")
                self.message_user(request, f"{rule_set} is now active.", messages.SUCCESS)
                return HttpResponseRedirect(self._url("change", rule_set))
        replaced = RuleSet.objects.filter(
            questionnaire_id=rule_set.questionnaire_id, status=RuleSet.Status.ACTIVE
        ).exclude(pk=rule_set.pk).first()
        return TemplateResponse(
            request,
            "admin/screening/ruleset/activate.html",
            self._context(request, rule_set, f"Activate {rule_set}?", problems=problems,
                          replaced=replaced),
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
class RuleAdmin(AuditedAdmin, HistoryWithoutRevertMixin, SimpleHistoryAdmin):
    """Every rule of every rule set, mainly for its history; edit rules in their rule set."""

    list_display = ["code", "rule_set", "category", "tier", "enabled"]
    list_filter = ["rule_set__status", "tier", "category"]
    search_fields = ["code", "condition", "explanation"]
    fields = ["rule_set", "code", "category", "tier", "enabled", "position", "condition",
              "explanation"]
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
