"""API tokens for clinicians and admins (django-rest-knox): they expire, only their hash is
stored, and they are revoked whenever what proved the holder's identity changes.

A token is issued by ``POST /api/auth/token/`` (``clinic.review.api.TokenAPIView``) for
``API_TOKEN_HOURS`` and sent as ``Authorization: Token <token>``.  Every token of a user is
revoked when their password changes, when two-factor sign-in is turned on or off (or its device
changes), and when the account is deactivated.

Revocation is driven by model signals, the one place this project uses them: a password can be
changed by the admin, ``manage.py changepassword``, the password-reset pages or a shell, and
the rule "a changed credential ends every token" must hold on all of those paths, including
ones added later, rather than depend on each remembering to call a service.
"""

import binascii
import functools
import logging
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed

from core.db import CompiledRead
from core.roles import CLINICIANS_GROUP, confirm, is_clinician

logger = logging.getLogger(__name__)

CREDENTIAL_FIELDS = {"password", "is_active"}


def may_hold_token(user) -> bool:
    """Clinicians and admins (superusers, who count as clinicians), and the staff accounts of a
    clinic that may see its appointments (reception, a booking system: ``Clinic.staff``): the
    only people the API's signed-in endpoints serve.  Other staff get no token."""
    return is_clinician(user) or (user.is_active and user.is_staff
                                  and user.has_perm("intake.view_appointment")
                                  and user.clinics_staffed.exists())


def issue_token(user) -> tuple[str, object]:
    """A new token for ``user``; returns the token (shown once, never stored) and its expiry.
    The user's tokens that have expired are deleted (knox deleted them on every request)."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    instance, token = AuthToken.objects.create(user=user)
    logger.info("API token issued to user %s, expires %s", user.pk, instance.expiry.isoformat())
    return token, instance.expiry


def revoke_tokens(user, *, reason: str) -> int:
    count, _ = AuthToken.objects.filter(user=user).delete()
    if count:
        logger.info("%s API token(s) of user %s revoked: %s", count, user.pk, reason)
    return count


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's authentication, also refusing a token whose holder may no longer have one (taken
    out of the Clinicians group, say); in one query for the token, its user and whether the
    user is a clinician, where knox made two and the group check a third."""

    def authenticate_credentials(self, token: bytes):
        """As knox's: the tokens with the token's key, each checked against the token's hash; an
        expired one is deleted and refused.  Read with its user and the user's membership of
        the Clinicians group.  Unlike knox's, it does not read every token of the user on each
        request to delete the expired ones among them: ``issue_token`` does that."""
        text = token.decode("utf-8", errors="replace")
        refused = AuthenticationFailed("Invalid token.")
        if "\x00" in text:  # no key holds one, and PostgreSQL refuses one in a text value
            raise refused
        for auth_token in _tokens_with_key(text[:CONSTANTS.TOKEN_KEY_LENGTH]):
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username,
                                   source="auth_token")
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error):
                raise refused from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise refused

    def validate_user(self, auth_token):
        user, auth_token = super().validate_user(auth_token)
        # knox read this user object with the token, for this request alone: the check is
        # noted on it, so that the view's permission and the services it calls do not ask again.
        # The membership read with the token stands for is_clinician's own query.
        confirm(user, member=getattr(auth_token, "in_clinicians", None))
        if not may_hold_token(user):
            raise AuthenticationFailed("This account may no longer use API tokens.")
        return user, auth_token


def _token_read(key: str):
    token_columns, user_columns = _columns()
    return (AuthToken.objects.filter(token_key=key)
            .annotate(in_clinicians=Exists(Group.objects.filter(
                name=CLINICIANS_GROUP, user=OuterRef("user_id"))))
            .values_list(*token_columns, *(f"user__{name}" for name in user_columns),
                         "in_clinicians"))


@functools.cache
def _columns() -> tuple[list[str], list[str]]:
    return ([field.attname for field in AuthToken._meta.concrete_fields],
            [field.attname for field in get_user_model()._meta.concrete_fields])


# Compiled once per process and prepared on each pooled connection (``core.db``): building
# the ORM's query on every request cost more than PostgreSQL took to answer it.
_TOKEN_READ = CompiledRead(_token_read, arguments=(str,), prepared=True)


def _tokens_with_key(key: str) -> list[AuthToken]:
    """The tokens with this key (one, but for a collision of keys), each with its user and, as
    ``in_clinicians``, whether the user is in the Clinicians group."""
    token_columns, user_columns = _columns()
    found = []
    for row in _TOKEN_READ.rows(key):
        auth_token = AuthToken.from_db(DEFAULT_DB_ALIAS, token_columns, row[:len(token_columns)])
        auth_token.user = get_user_model().from_db(
            DEFAULT_DB_ALIAS, user_columns, row[len(token_columns):-1])
        auth_token.in_clinicians = bool(row[-1])
        found.append(auth_token)
    return found


class TokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes these tokens."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        # "Token" is the header's keyword, not a secret.
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token")  # noqa: S106


# --- Revocation --------------------------------------------------------------------------------


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="tokens-credentials-changing")
def _note_credential_change(sender, instance, update_fields=None, **kwargs):
    instance._credentials_changed = None
    if instance.pk is None:
        return
    if update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields):
        return  # e.g. last_login on every sign-in: nothing to compare
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password:
        instance._credentials_changed = "password changed"
    elif before["is_active"] and not instance.is_active:
        instance._credentials_changed = "account deactivated"


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="tokens-credentials-changed")
def _revoke_on_credential_change(sender, instance, **kwargs):
    reason = getattr(instance, "_credentials_changed", None)
    if reason:
        revoke_tokens(instance, reason=reason)


@receiver(pre_save, sender=TOTPDevice, dispatch_uid="tokens-two-factor-saving")
def _note_two_factor_change(sender, instance, **kwargs):
    # Turned on (confirmed) or its secret replaced.  A device is saved on every code checked
    # (django-otp records the last code and failures): that changes nothing here.
    before = (sender.objects.filter(pk=instance.pk).values("confirmed", "key").first()
              if instance.pk is not None else None)
    was = (before["confirmed"], before["key"]) if before else (False, None)
    instance._two_factor_changed = instance.confirmed and was != (True, instance.key)


@receiver(post_save, sender=TOTPDevice, dispatch_uid="tokens-two-factor-saved")
def _revoke_on_two_factor_saved(sender, instance, **kwargs):
    if getattr(instance, "_two_factor_changed", False):
        revoke_tokens(instance.user, reason="two-factor sign-in turned on or changed")


@receiver(post_delete, sender=TOTPDevice, dispatch_uid="tokens-two-factor-deleted")
def _revoke_on_two_factor_removed(sender, instance, **kwargs):
    if instance.confirmed:
        revoke_tokens(instance.user, reason="two-factor sign-in turned off")
