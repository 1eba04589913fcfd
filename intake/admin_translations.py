"""Questionnaire translations in the admin: a version's texts one field each, with the English
beside every one; saved while awaiting clinical review, then signed off (by someone with the
``intake.sign_off_translation`` permission) and frozen.  Only signed-off translations are
offered to patients."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from clinic.admin_audit import AuditedAdmin, record_admin_change
from core.errors import Invalid
from intake.models import QuestionnaireTranslation
from intake.services import translations

TEXT_FIELD_PREFIX = "text__"


class TranslationForm(forms.ModelForm):
    class Meta:
        model = QuestionnaireTranslation
        fields = ["version", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        translation = self.instance
        if translation.pk is None:
            return
        for key, english in translations.english_texts(translation.version).items():
            self.fields[TEXT_FIELD_PREFIX + key] = forms.CharField(
                label=key, required=False, help_text=f"English: {english}",
                initial=translation.texts.get(key, ""),
                widget=forms.Textarea(attrs={"rows": 2}) if len(english) > 80
                else forms.TextInput(attrs={"size": 80}))

    def save(self, commit=True):
        translation = super().save(commit=False)
        texts = {name[len(TEXT_FIELD_PREFIX):]: value.strip()
                 for name, value in self.cleaned_data.items()
                 if name.startswith(TEXT_FIELD_PREFIX) and value and value.strip()}
        if translation.pk is not None:
            translation.texts = texts
        if commit:
            translation.save()
        return translation


@admin.register(QuestionnaireTranslation)
class QuestionnaireTranslationAdmin(AuditedAdmin, admin.ModelAdmin):
    form = TranslationForm
    list_display = ("version", "language", "status", "signed_off_by", "signed_off_at")
    list_filter = ("language", "status")
    actions = ["sign_off"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["version", "language"],
                            "description": "Save first; then each text of the version is "
                            "listed to translate, with its English beside it."})]
        if obj.status == QuestionnaireTranslation.Status.SIGNED_OFF:
            return [(None, {"fields": ["version", "language", "state", "translated_texts"]})]
        keys = [TEXT_FIELD_PREFIX + key for key in translations.english_texts(obj.version)]
        return [(None, {"fields": ["version", "language", "state"]}), ("Texts", {"fields": keys})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The texts are the form's own fields (TranslationForm), not the model's.
        kwargs["fields"] = ["version", "language"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["version", "language", "state", "translated_texts"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == QuestionnaireTranslation.Status.SIGNED_OFF:
            return False  # frozen: shown, not changed
        return super().has_change_permission(request, obj)

    @admin.display(description="State")
    def state(self, translation):
        if translation.status == QuestionnaireTranslation.Status.SIGNED_OFF:
            return format_html("Signed off by {} on {:%d %b %Y}: offered to patients, and "
                               "frozen.", translation.signed_off_by,
                               translation.signed_off_at)
        return ("Awaiting clinical review: not offered to patients until someone who may "
                "sign translations off does (the Sign off action in the list).")

    @admin.display(description="Texts")
    def translated_texts(self, translation):
        english = translations.english_texts(translation.version)
        return format_html_join("", "<p><strong>{}</strong><br>{}<br><em>{}</em></p>", (
            (key, translation.texts.get(key, ""), text) for key, text in english.items()))

    @admin.action(description="Sign off as clinically reviewed (offer it to patients)")
    def sign_off(self, request, queryset):
        if not request.user.has_perm("intake.sign_off_translation"):
            self.message_user(request, "Signing off a translation needs the permission to "
                              "sign off translations.", messages.ERROR)
            return
        for translation in queryset:
            try:
                translations.sign_off(translation, by=request.user)
            except Invalid as refused:
                self.message_user(request, f"{translation}: {'; '.join(refused.messages)}",
                                  messages.ERROR)
            else:
                record_admin_change(request, f"signed off the {translation}")
                self.message_user(request, f"{translation} signed off: patients can choose "
                                  "it now.", messages.SUCCESS)
