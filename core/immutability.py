"""Frozen records: what a patient answered and how they were triaged must stay readable exactly
as it was, so a published questionnaire version and an active or retired rule set never change
again, nor does anything that belongs to them (sections, questions, choices; rules, derived
values, score items, free-text terms).  Change means a new draft.

This is the last line of defence: services and the admin check first and give friendlier
errors, but nothing that goes through the ORM's ``save``, ``delete``, ``update`` or bulk
``delete`` can change a frozen record.  The checks ask the database, not the instance: an
instance loaded before publishing or activation is stale.

An **owner** (``QuestionnaireVersion``, ``RuleSet``) has a ``status``, names the statuses in
which it is frozen (``FROZEN_STATUSES``) and the error that says so (``frozen_error()``).  A
record it owns is a ``FrozenWithOwner`` and says which owner (``owner_key()``); its queryset is
a ``FrozenQuerySet`` naming the lookup from it to its owner (``owner_path``).  Changing an
owner's status itself (publishing, activating, retiring) is a conditional bulk update in a
service.
"""

from django.core.exceptions import ValidationError
from django.db import models


class FrozenError(ValidationError):
    """The error an owner's ``frozen_error()`` gives: what the owner is now (``frozen``, e.g.
    "Rule set version 3 is active"), and how to change it after all: a new draft."""

    def __init__(self, frozen: str, *, code: str):
        super().__init__(
            f"{frozen} and cannot be changed. Create a new draft from it and edit that instead.",
            code=code,
        )


def _refuse_if_frozen(owner_model, owner_id) -> None:
    if owner_id is None:
        return
    frozen = owner_model.objects.filter(pk=owner_id,
                                        status__in=owner_model.FROZEN_STATUSES).first()
    if frozen is not None:
        raise frozen.frozen_error()


class FrozenQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes that would touch a frozen owner's records.
    ``owner_path`` is the lookup from the model to its owner; empty for the owner itself."""

    owner_path = ""

    def _owner_model(self):
        model = self.model
        for name in filter(None, self.owner_path.split("__")):
            model = model._meta.get_field(name).related_model
        return model

    def _refuse_if_frozen(self) -> None:
        owner = self._owner_model()
        prefix = f"{self.owner_path}__" if self.owner_path else ""
        owner_id = (self.filter(**{f"{prefix}status__in": owner.FROZEN_STATUSES})
                    .values_list(f"{prefix}pk", flat=True).first())
        _refuse_if_frozen(owner, owner_id)

    def update(self, **kwargs):
        self._refuse_if_frozen()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_if_frozen()
        return super().delete()


class FrozenWithOwner(models.Model):
    """A record saved and deleted only while its owner is not frozen."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        _refuse_if_frozen(*self.owner_key())
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_frozen(*self.owner_key())
        return super().delete(*args, **kwargs)

    def owner_key(self) -> tuple[type[models.Model], int | None]:
        """The owner's model and primary key (None: not saved yet, nothing to protect)."""
        raise NotImplementedError


class AppendOnly(models.Model):
    """A record written once and kept (an audit event, a sign-off): saving it again or deleting
    it raises ``ValidationError`` naming it (``append_only_name``)."""

    append_only_name = "This record"

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(f"{self.append_only_name} cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{self.append_only_name} cannot be deleted.")
