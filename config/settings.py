"""Settings for the clinic service.

Every value that differs between a laptop and a production server comes from the environment
(see ``docs/architecture.md`` and the contract in ``shared/clinical/api-contract.md``).  With
nothing set the service runs on an SQLite file and runs background tasks in-process after
commit, so a laptop needs nothing but Python.  Environments differ in values, never in code paths.
"""

import datetime
import hashlib
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# The development key is public (it is in this file); production must bring its own.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105

# Off unless asked for: a deployment that forgets to set it must not serve Django's debug page
# (which shows request data).  `scripts/dev.py serve` and the tests turn it on.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
# Django's own deployment check asks the same: 50 characters or more, of at least 5 kinds.
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_DISTINCT = 50, 5
if not DEBUG and (SECRET_KEY == DEVELOPMENT_SECRET_KEY
                  or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
                  or len(set(SECRET_KEY)) < SECRET_KEY_MIN_DISTINCT
                  or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is false but DJANGO_SECRET_KEY is unset, the development key, or weak "
        f"(it needs at least {SECRET_KEY_MIN_LENGTH} characters with at least "
        f"{SECRET_KEY_MIN_DISTINCT} different ones): set it to a long random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'. For a local "
        "development server, set DJANGO_DEBUG=true instead."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

# How many reverse proxies in front of the service append to X-Forwarded-For.  Every limit and
# lock-out by address (DRF's throttles, the pages' throttles, django-axes) reads the client's
# address through core.client_address with this number; with 0 the header is ignored.
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured("DJANGO_NUM_PROXIES must be 0 or more.")

# --- Transport security ---------------------------------------------------------------------
# On a real install (DJANGO_DEBUG=false) the site is served over HTTPS only: cookies are
# secure, browsers are told to use HTTPS for a year (HSTS), and plain HTTP is redirected.  Each
# can be set; a deployment behind a TLS-terminating proxy sets DJANGO_SECURE_PROXY_SSL_HEADER.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_SECONDS", default=8 * 60 * 60)  # a working day
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by load balancers and container health checks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "adminsortable2",
    "core",
    "clinic",
    "intake",
    "screening",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.errors.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so static files keep their own cache headers.
    "config.errors.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.throttling.SignInThrottleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.two_factor.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lock-out into its response.
    "axes.middleware.AxesMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A service's error (core.errors) that a page let through: the page for its status.
    "config.errors.DomainErrorMiddleware",
    # Its process_exception runs first for a view's error: a database that cannot be reached
    # is a 503 with Retry-After, never a 500.
    "config.errors.DatabaseUnavailableMiddleware",
]
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The queue's rows alone (clinic/review/jinja2.py says why), asked for by name.
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "clinic.review.jinja2.environment"},
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg 3 connection pool; persistent connections (CONN_MAX_AGE) must stay
    # off when it is on.
    # A request waits at most this long for a connection, so a database that is down gives a
    # prompt error (and /healthz a prompt 503) rather than a hung worker.
    # With the database down, a request fails after at most DATABASE_POOL_TIMEOUT seconds and
    # is answered 503 with Retry-After (config.errors); the pool reconnects on its own when
    # the database returns.  connect_timeout bounds each attempt the pool makes.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # reconnect_timeout: the pool gives up a reconnection attempt after 3 s of failures (its
    # backoff would otherwise space attempts out to minutes during a long outage), and the next
    # request starts a fresh one, so the pool is back within a second or two of the database.
    options["pool"] = {"timeout": env.float("DATABASE_POOL_TIMEOUT", default=2.0),
                       "reconnect_timeout": 3.0}
    options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2))
    # psycopg prepares a statement only when asked to (core.db.prepared_cursor: the reads a
    # submission makes), never Django's own, which bind on the client.  A transaction pooler
    # that cannot keep prepared statements (PgBouncer before 1.21) needs this off.
    options["prepare_threshold"] = (
        2**31 - 1 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Django's backend, whose pool checks a connection before handing it out (so after an
    # outage no request gets one the restarted server has already dropped) with a query that
    # also reads the configuration generation (core.configuration): a submission then reads
    # its clinic only after a change.  Instead of CONN_HEALTH_CHECKS, the same check with an
    # empty query.
    DATABASES["default"]["ENGINE"] = "core.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and tasks -----------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

# Without a broker, tasks run in-process (after the transaction commits, see
# clinic.alerting.delivery).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Alerts must survive a worker dying mid-task: acknowledge a message only when its task has
# finished, give it back if the worker process is lost, and take one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that hangs is killed well before its claim on a notification runs out.
CELERY_TASK_SOFT_TIME_LIMIT = 25
CELERY_TASK_TIME_LIMIT = 30
CELERY_TASK_ROUTES = {
    "clinic.deliver_notification": {"queue": "alerts"},
    "clinic.deliver_digest": {"queue": "alerts"},
    "clinic.sweep_alerts": {"queue": "alerts"},
    "clinic.ping_heartbeat_url": {"queue": "alerts"},
}
# Redis re-delivers an unacknowledged message after the visibility timeout; it must be longer
# than any task can run (CELERY_TASK_TIME_LIMIT).  The sweep re-queues sooner from the database.
# max_retries 0: queuing tries to connect once; kombu would otherwise retry until the connection
# timeout, holding each request 2 s while the broker is down.  (Workers and beat reconnect on
# their own schedule, CELERY_BROKER_CONNECTION_MAX_RETRIES.)  No socket_timeout: it would stop a
# publish to a hung broker after that long, but it applies to the worker too, which can stop
# consuming after an ack that timed out ("Couldn't ack", celery/celery#2415).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300, "max_retries": 0}
# With the broker down, queuing fails at once instead of holding up the patient's request;
# the alert is already in the database and the sweep queues it again.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Alerts ---------------------------------------------------------------------------------


def _above_zero(name: str, default: str, *, unit: str, most: float, most_in_words: str,
                what: str) -> float:
    """A number of ``unit`` from the environment, above 0 and at most ``most`` (decimals
    allowed); anything else stops the start with how to fix it."""
    raw = env.str(name, default=default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= most:  # NaN fails this too
        raise ImproperlyConfigured(
            f"{name} must be a number of {unit} above 0 and at most {most_in_words}; it is "
            f"{raw!r}. {what} The default is {default}.")
    return value


def _minutes(name: str, default: str, *, what: str) -> float:
    """A number of minutes, above 0 and at most a week (0.5 is 30 seconds)."""
    return _above_zero(name, default, unit="minutes", most=7 * 24 * 60,
                       most_in_words="10080 (a week)", what=what)


# How often the sweep runs (Celery beat), and how long a worker holds a notification it is
# sending before another may take it over.  The sweep's period takes decimals (the end-to-end
# tests sweep every half second, tests/factories.py SWEEP_SECONDS); production keeps 5 s.
ALERT_SWEEP_SECONDS = _above_zero(
    "ALERT_SWEEP_SECONDS", "5", unit="seconds", most=3600, most_in_words="3600 (an hour)",
    what="It is how often the alert sweep looks for what is due.")
ALERT_CLAIM_SECONDS = env.int("ALERT_CLAIM_SECONDS", default=60)
# The backoff before each retry of a channel after a temporary failure, in seconds, one number a
# retry (clinic.alerting.delivery.retry_delays); after the last, the next channel is tried.
# Decimals allowed; the end-to-end tests shorten the first retry to wait less.
_retry_seconds = env.str("ALERT_RETRY_SECONDS", default="5,20,60")
try:
    ALERT_RETRY_SECONDS = tuple(float(part) for part in _retry_seconds.split(","))
except ValueError:
    ALERT_RETRY_SECONDS = ()
if not ALERT_RETRY_SECONDS or not all(0 < s <= 24 * 60 * 60 for s in ALERT_RETRY_SECONDS):
    raise ImproperlyConfigured(
        "ALERT_RETRY_SECONDS must be one or more numbers of seconds above 0 and at most 86400, "
        f"separated by commas; it is {_retry_seconds!r}. The default is 5,20,60.")
# Urgent alerts for a clinician that arrive within this many minutes of one that paged them are
# held and sent together as one digest page when the window ends
# (clinic.alerting.alerts).  Emergencies
# and escalations are never held.  0 turns grouping off; decimals are allowed (0.5 = 30 s).
_group_minutes = env.str("ALERT_GROUP_MINUTES", default="10")
try:
    ALERT_GROUP_MINUTES = float(_group_minutes)
except ValueError:
    ALERT_GROUP_MINUTES = -1.0
if not 0 <= ALERT_GROUP_MINUTES <= 24 * 60:  # NaN fails this too
    raise ImproperlyConfigured(
        "ALERT_GROUP_MINUTES must be a number of minutes between 0 (no grouping) and 1440; "
        f"it is {_group_minutes!r}. The default, 10, suits most clinics.")



# How long the one-tap acknowledgement link in a page works (clinic.alerting.links).
ALERT_LINK_MAX_AGE_MINUTES = _minutes(
    "ALERT_LINK_MAX_AGE_MINUTES", "1440",
    what="It is how long the acknowledgement link in an alert page works.")
# Acknowledged is not resolved: an acknowledged alert with no call outcome recorded this many
# minutes later pages the clinician again, and the same time after that escalates to the next
# step of its plan (clinic.alerting.alerts.follow_up).
ALERT_RESOLVE_MINUTES = _minutes(
    "ALERT_RESOLVE_MINUTES", "30",
    what="It is how long after acknowledging an alert a call outcome must be recorded.")
CELERY_BEAT_SCHEDULE = {
    "sweep-alerts": {"task": "clinic.sweep_alerts", "schedule": float(ALERT_SWEEP_SECONDS)},
    "apply-retention": {"task": "intake.apply_retention", "schedule": 24 * 60 * 60.0},
    "send-invitations": {"task": "intake.send_invitations", "schedule": 60.0},
    # Each morning (07:00 UTC: 07:00 or 08:00 in the UK), the next 7 days of every clinic's
    # rota are checked and its admins emailed any problems (clinic.alerting.coverage).
    "check-rota-coverage": {"task": "clinic.check_rota_coverage",
                            "schedule": crontab(hour=7, minute=0)},
}
# Beat's usual scheduler, which also records beat's heartbeat (clinic.heartbeats).
CELERY_BEAT_SCHEDULER = "clinic.heartbeats:BeatScheduler"
# A dead-man's switch outside the service (e.g. a healthchecks.io check): pinged every minute by
# a task that beat schedules and a worker runs, so silence means beat, the broker or every worker
# has stopped; <url>/fail when /healthz finds alerts blocked.
HEARTBEAT_URL = env.str("HEARTBEAT_URL", default="")
if HEARTBEAT_URL and not HEARTBEAT_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("HEARTBEAT_URL must be an http(s) URL.")
if HEARTBEAT_URL:
    CELERY_BEAT_SCHEDULE["ping-heartbeat-url"] = {"task": "clinic.ping_heartbeat_url",
                                                  "schedule": 60.0}
# Submissions older than this are anonymised (8 years: the NHS minimum for adult records).
DATA_RETENTION_DAYS = env.int("DATA_RETENTION_DAYS", default=8 * 365 + 2)
# The languages a patient may fill the form in: English, then those a questionnaire version
# may be translated into (intake.QuestionnaireTranslation); a translation is offered only once
# signed off.  Urdu is written right to left.
PATIENT_LANGUAGES = [("en-gb", "English"), ("cy", "Cymraeg (Welsh)"), ("ur", "اردو (Urdu)")]
RIGHT_TO_LEFT_LANGUAGES = {"ur"}
# A patient's form in progress is kept this many hours after its last change (an invitation's
# until the appointment), so it can be resumed on the same device (intake.services.drafts).
FORM_DRAFT_HOURS = env.int("FORM_DRAFT_HOURS", default=24)
# Invitations to fill in the intake before an appointment (intake.services.invitations): wrong
# dates of birth before a link locks, and the reminders' hours before the appointment.
INVITATION_MAX_DOB_TRIES = env.int("INVITATION_MAX_DOB_TRIES", default=5)
try:
    INVITATION_REMINDER_HOURS = [float(hours) for hours in
                                 env.list("INVITATION_REMINDER_HOURS", default=["72", "24"])]
except ValueError:
    INVITATION_REMINDER_HOURS = [-1.0]
if not 1 <= INVITATION_MAX_DOB_TRIES <= 20 or any(not 0 < h <= 24 * 60  # NaN fails this too
                                                  for h in INVITATION_REMINDER_HOURS):
    raise ImproperlyConfigured(
        "INVITATION_MAX_DOB_TRIES must be 1 to 20, and INVITATION_REMINDER_HOURS a list of "
        "hours between 0 and 1440 (e.g. 72,24).")
# Where links in alerts point: the address clinicians use to reach this service.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
ALERT_MESSAGE_ID_DOMAIN = env.str("ALERT_MESSAGE_ID_DOMAIN", default="clinic.invalid")
# Webhook alerts carry X-Clinic-Signature, an HMAC-SHA256 under this secret
# (clinic/alerting/transports.py;
# docs/operations.md shows how a receiver checks it).  Give the same value to the receivers.
# Unset, a key derived from DJANGO_SECRET_KEY signs them (still signed, but no receiver knows it).
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
if not WEBHOOK_SECRET:
    WEBHOOK_SECRET = hashlib.sha256(f"webhook-signing:{SECRET_KEY}".encode()).hexdigest()
elif len(WEBHOOK_SECRET) < 32 and not DEBUG:
    raise ImproperlyConfigured("WEBHOOK_SECRET must be at least 32 characters, e.g. "
                               "python -c 'import secrets; print(secrets.token_urlsafe(32))'.")
# Webhook addresses must be https:// (checked in the admin and again before sending).
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG)
# Text messages (SMS) through a provider with Twilio's Messages API (clinic/alerting/transports.py):
# on when the account, its token and the sender are all set, off (no texts, mobile numbers
# unused) when none is.  SMS_API_BASE is the API's address (another Twilio-compatible provider,
# or a test gateway).  The token also checks the provider's signed delivery receipts
# (POST /api/alerting/sms-status/).
SMS_API_BASE = env.str("SMS_API_BASE", default="https://api.twilio.com").rstrip("/")
SMS_ACCOUNT_SID = env.str("SMS_ACCOUNT_SID", default="")
SMS_AUTH_TOKEN = env.str("SMS_AUTH_TOKEN", default="")
SMS_FROM = env.str("SMS_FROM", default="")
_sms_settings = {"SMS_ACCOUNT_SID": SMS_ACCOUNT_SID, "SMS_AUTH_TOKEN": SMS_AUTH_TOKEN,
                 "SMS_FROM": SMS_FROM}
SMS_ENABLED = all(_sms_settings.values())
if any(_sms_settings.values()) and not SMS_ENABLED:
    raise ImproperlyConfigured(
        "SMS needs SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM together (or none of them, to "
        "send no texts); missing: "
        + ", ".join(name for name, value in _sms_settings.items() if not value) + ".")
if not SMS_API_BASE.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SMS_API_BASE must be an http(s) URL, e.g. https://api.twilio.com.")
# The base of the FHIR canonical URLs of published questionnaires (interop/fhir).  Record systems
# store these, so once set in production it must never change.
FHIR_CANONICAL_BASE = env.str("FHIR_CANONICAL_BASE", default="")

if REDIS_URL:
    # The cache holds only the rate limits' counters.  Short timeouts: a Redis that is down or
    # hung costs a request a fraction of a second, after which core.throttling counts in the
    # process instead.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email ----------------------------------------------------------------------------------

EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="alerts@clinic.example.org")

# The largest request body accepted outside the admin (an intake is a few kilobytes).
REQUEST_BODY_MAX_BYTES = 64 * 1024

# --- Auth, i18n, static ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password guessing: after AXES_FAILURE_LIMIT failures for one username from one address, that
# pair is locked out for AXES_COOLOFF_TIME hours (admin, clinician and API token logins alike).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "core.lockout.login_locked_out"
# The address axes locks is the one the throttles count: the client's, read through the trusted
# proxies (DJANGO_NUM_PROXIES), not the proxy's own.
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"

# Time-based codes name the service in the authenticator app.
OTP_TOTP_ISSUER = "Clinic intake"
# Staff and superusers must sign in with a second factor (and are sent to set one up first);
# on by default wherever debug is off.
REQUIRE_2FA = env.bool("DJANGO_REQUIRE_2FA", default=not DEBUG)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/queue/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["intake.api.parsers.StrictJSONParser"],
    # Errors under /api/ are JSON even from the schema (YAML) and docs (HTML) views.
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # One resolver for every per-address limit: core.client_address.client_address.
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        # Intakes (the form, JSON and FHIR together), per client address.
        "submissions": env.str("SUBMISSION_THROTTLE_RATE", default="60/hour"),
        # Password attempts on the login pages and the token endpoint together, per client
        # address (django-axes also locks a guessed username, from that address only).
        "sign_in": env.str("SIGN_IN_THROTTLE_RATE", default="20/hour"),
        # Password-reset requests, each of which sends an email, per client address.
        "password_reset": env.str("PASSWORD_RESET_THROTTLE_RATE", default="5/hour"),
    },
}

# API tokens (django-rest-knox, see core/tokens.py): stored as a SHA-512 hash, valid for
# API_TOKEN_HOURS, sent as "Authorization: Token <token>"; at most 10 live per user.
API_TOKEN_HOURS = env.float("API_TOKEN_HOURS", default=10.0)
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=API_TOKEN_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": 10,
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic intake and red-flag screening API",
    "DESCRIPTION": "Pre-appointment intake for physiotherapy clinics, screened for red flags.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from this site (no CDN), so the Content-Security-Policy can stay strict.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several fields share a name but not their choices (a flag's urgency is never routine);
    # each choice set gets a name of its own in the document.
    "ENUM_NAME_OVERRIDES": {
        "UrgencyEnum": "screening.urgency.Urgency",
        "FlagUrgencyEnum": "screening.urgency.Tier",
        "AlertUrgencyEnum": "screening.urgency.PAGING_CHOICES",
        "SubmissionStatusEnum": "intake.models.Submission.Status",
        "ReviewOutcomeEnum": "intake.models.Submission.Outcome",
        "DeliveryOutcomeEnum": "clinic.models.DeliveryAttempt.Outcome",
        "AppointmentStatusEnum": "intake.models.Appointment.Status",
        "CallOutcomeEnum": "clinic.models.CallOutcome.Outcome",
        "IntakeStatusEnum": ["not started", "locked", "done"],
    },
}

# A draft rule set's admin page posts every rule, derived value and free-text term of the set
# (about 1,400 fields for rule set version 2); Django's default limit of 1,000 would refuse it.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# --- Content-Security-Policy ----------------------------------------------------------------

from csp.constants import NONE, SELF  # noqa: E402

# No inline scripts or styles anywhere: pages load their JavaScript and CSS from /static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Logging --------------------------------------------------------------------------------

# Log lines name records by id or reference, never by patient data (tests/test_patient_data.py
# searches captured logs, task arguments and emails for a marker patient).  On a real install
# logs are JSON lines, one object per event, for a log collector; on a laptop, plain text.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("DJANGO_LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # Django gives its own logger a console handler; without this every line prints twice.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# --- The clinic -----------------------------------------------------------------------------

# Slug of the questionnaire the patient form and /api/questionnaires/current/ serve.
INTAKE_QUESTIONNAIRE_SLUG = "upper-back-pain"
# How often an open review queue asks whether anything changed (static/js/queue.js), in seconds;
# decimals allowed.  The browser tests that only wait for polls ask every second.
QUEUE_POLL_SECONDS = _above_zero(
    "QUEUE_POLL_SECONDS", "3", unit="seconds", most=600, most_in_words="600 (ten minutes)",
    what="It is how often an open review queue asks whether anything changed.")
