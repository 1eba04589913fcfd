"""Settings from the environment, the developer script, CI, docker-compose and the service
policy of ``tests/conftest.py``."""

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
SERVE_COMMAND = "python3 scripts/dev.py serve"
TEST_COMMAND = "python3 scripts/dev.py test"


def load_dev_script():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Settings -------------------------------------------------------------------------------


# The tests that start a fresh Python (Django's start-up, or pytest itself) are end to end.
FRESH_PYTHON = pytest.mark.e2e


def django_setup(**environment: str) -> subprocess.CompletedProcess:
    """Start Django in a fresh interpreter with only ``environment`` of the settings variables
    set, and print the settings the tests look at."""
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **environment)
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, "
        "f'DEBUG={s.DEBUG}')"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )


@FRESH_PYTHON
def test_production_settings_refuse_to_start_without_a_secret_key():
    result = django_setup(DJANGO_DEBUG="false")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


STRONG_KEY = "k3J9-q8Zr_x2Wm7Pv4Ns6Td1Hy5Lc0Bf8Gu3Ea9Ro2Yi7Sw4Xt1Mz6Qn5Vb0Dp_Kj"


@FRESH_PYTHON
def test_production_settings_start_with_a_strong_secret_key():
    result = django_setup(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=STRONG_KEY)

    assert result.returncode == 0, result.stderr


@FRESH_PYTHON
@pytest.mark.parametrize("key", ["changeme", "", "a-long-random-test-value",
                                 "ab" * 40, "django-insecure-" + STRONG_KEY])
def test_production_settings_refuse_a_weak_secret_key(key):
    result = django_setup(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "at least 50 characters" in result.stderr


@FRESH_PYTHON
def test_debug_is_off_unless_asked_for():
    """The finding: the Docker image set no DJANGO_DEBUG and served Django's debug page."""
    result = django_setup(DJANGO_SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr
    assert "DEBUG=False" in result.stdout
    assert "ENV DJANGO_DEBUG=false" in (ROOT / "Dockerfile").read_text()


@FRESH_PYTHON
def test_on_a_laptop_with_debug_on_it_uses_sqlite_and_runs_tasks_in_process():
    """DJANGO_DEBUG=true is what scripts/dev.py sets; nothing else is needed."""
    result = django_setup(DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "memory://",
                                     "DEBUG=True"]


@FRESH_PYTHON
def test_database_url_and_redis_url_switch_to_postgresql_and_the_broker():
    result = django_setup(
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://clinic@db.invalid:5432/clinic", REDIS_URL="redis://broker:6379/0"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "core.postgresql", "False", "redis://broker:6379/0", "DEBUG=True"
    ]


# --- scripts/dev.py -------------------------------------------------------------------------


@pytest.fixture
def dev_script(monkeypatch):
    """scripts/dev.py with its commands recorded instead of run; each returns 0 unless
    ``dev_script.exit_codes`` names the command's first recognisable word.  The machine has one
    CPU, so pytest runs in one process with just the arguments given (the options for more
    CPUs are tested on their own, below)."""
    dev = load_dev_script()
    monkeypatch.setattr(dev, "cpus", lambda: 1)
    dev.commands_run = []
    dev.exit_codes = {}

    def call(*args):
        command = [str(arg) for arg in args]
        dev.commands_run.append(command)
        for word, code in dev.exit_codes.items():
            if word in command:
                return code
        return 0

    monkeypatch.setattr(dev, "call", call)
    return dev


def test_dev_test_counts_no_tests_collected_as_a_failure(dev_script):
    dev_script.exit_codes = {"pytest": 5}

    assert dev_script.test(Path("python"), dev_script.parse_args(["test"])) != 0


def test_dev_test_runs_every_check_and_fails_if_any_fails(dev_script):
    dev_script.exit_codes = {"ruff": 1}

    assert dev_script.test(Path("python"), dev_script.parse_args(["test"])) == 1
    assert [next(w for w in c if w in {"ruff", "makemigrations", "pytest"})
            for c in dev_script.commands_run] == ["ruff", "makemigrations", "pytest"]


def test_dev_test_passes_its_extra_arguments_to_pytest(dev_script):
    options = dev_script.parse_args(["test", "-k", "seed", "-x"])

    assert dev_script.test(Path("python"), options) == 0
    assert dev_script.commands_run[-1][-4:] == ["pytest", "-k", "seed", "-x"]


@pytest.mark.parametrize(("cpus", "workers"), [(2, "2"), (4, "4"), (16, "4")])
@pytest.mark.parametrize("selection", [["-m", "not e2e"], ["-mnot e2e and not browser"]])
def test_dev_test_runs_the_fast_selection_on_every_cpu_up_to_four(dev_script, monkeypatch, cpus,
                                                                   workers, selection):
    monkeypatch.setattr(dev_script, "cpus", lambda: cpus)

    assert dev_script.test(Path("python"), dev_script.parse_args(["test", *selection])) == 0
    assert dev_script.commands_run[-1][-3 - len(selection):] == [
        "pytest", "-n", workers, *selection]


@pytest.mark.parametrize("args", [["-m", "e2e"], ["-m", "not e2e", "-n", "0"],
                                  ["-m", "not e2e", "-n3"], ["-m", "not e2e", "--numprocesses=3"],
                                  ["-m", "not e2e", "--dist", "load"],
                                  ["-m", "not e2e", "-p", "no:xdist"], ["-n", "0"],
                                  ["-n", "0", "-k", "seed"]])
def test_dev_test_runs_in_one_process_unless_the_fast_selection_leaves_it_the_choice(
        dev_script, monkeypatch, args):
    monkeypatch.setattr(dev_script, "cpus", lambda: 4)

    assert dev_script.test(Path("python"), dev_script.parse_args(["test", *args])) == 0
    assert dev_script.commands_run[-1][-1 - len(args):] == ["pytest", *args]
    assert sum("pytest" in command for command in dev_script.commands_run) == 1


@pytest.mark.parametrize("args", [[], ["-k", "seed"], ["-x", "tests/clinic"]])
def test_dev_test_runs_the_fast_selection_the_browser_tests_and_the_rest_each_in_parallel(
        dev_script, monkeypatch, args):
    monkeypatch.setattr(dev_script, "cpus", lambda: 2)

    assert dev_script.test(Path("python"), dev_script.parse_args(["test", *args])) == 0
    runs = [command[command.index("pytest") + 1:] for command in dev_script.commands_run
            if "pytest" in command]
    assert runs == [["-n", "2", "-m", "not e2e", *args],
                    ["-n", "2", "-m", "e2e and browser", *args],
                    ["-n", "2", "-m", "e2e and not browser", *args]]


def test_dev_test_runs_the_whole_suite_in_one_process_on_one_cpu(dev_script):
    assert dev_script.test(Path("python"), dev_script.parse_args(["test"])) == 0
    assert [command[command.index("pytest") + 1:] for command in dev_script.commands_run
            if "pytest" in command] == [[]]


@pytest.mark.parametrize(("codes", "expected"), [
    ((0, 0, 0), 0), ((1, 0, 0), 1), ((0, 1, 0), 1), ((0, 0, 1), 1), ((5, 0, 5), 0),
    ((0, 5, 5), 0), ((5, 5, 5), 5), ((5, 2, 0), 2),
])
def test_dev_test_fails_when_any_part_of_the_whole_suite_fails(dev_script, monkeypatch, codes,
                                                               expected):
    """Exit codes of the three runs; no tests collected in one (a ``-k`` that matches only e2e
    tests, say) is no failure, in all of them it is."""
    monkeypatch.setattr(dev_script, "cpus", lambda: 2)
    remaining = list(codes)
    monkeypatch.setattr(dev_script, "call", lambda *args: remaining.pop(0))

    assert dev_script.run_pytest(Path("python"), []) == expected
    assert remaining == []


def test_dev_install_is_skipped_until_pyproject_changes(dev_script, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    venv = tmp_path / ".venv"
    monkeypatch.setattr(dev_script, "ROOT", tmp_path)
    monkeypatch.setattr(dev_script, "VENV", venv)
    monkeypatch.setattr(dev_script, "INSTALL_STAMP", venv / ".dev-install-stamp")
    python = dev_script.venv_python()
    python.parent.mkdir(parents=True)
    python.touch()
    (venv / "pyvenv.cfg").write_text("version = 3.11.7\n")

    def pip_installs():
        return sum("pip" in command for command in dev_script.commands_run)

    dev_script.ensure_environment()
    dev_script.ensure_environment()
    assert pip_installs() == 1

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "changed"\n')
    dev_script.ensure_environment()
    assert pip_installs() == 2


# --- README, CI and docker-compose ----------------------------------------------------------


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = README.read_text(encoding="utf-8")
    assert SERVE_COMMAND in readme
    assert TEST_COMMAND in readme
    ci_lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    assert any(line.startswith(TEST_COMMAND) for line in ci_lines)
    assert not any(line.startswith("export REDIS_URL") for line in ci_lines)


def test_ci_script_is_executable():
    assert CI_RUN.stat().st_mode & stat.S_IXUSR


def test_docker_compose_runs_the_whole_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]

    assert set(services) == {"web", "worker", "beat", "postgres", "redis", "mailpit"}
    assert "migrate" in services["web"]["command"]
    assert "gunicorn config.wsgi" in services["web"]["command"]
    assert "celery -A config worker -Q alerts,celery" in services["worker"]["command"]
    assert "celery -A config beat" in services["beat"]["command"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert (environment["EMAIL_HOST"], environment["EMAIL_PORT"]) == ("mailpit", "1025")
        assert environment["DJANGO_DEBUG"] == "false"
        # Passed through from the shell, never a known value written here.
        assert environment["DJANGO_SECRET_KEY"] is None
        assert "DJANGO_ALLOWED_HOSTS" in environment
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert "8025:8025" in services["mailpit"]["ports"]


# --- The service policy (tests/conftest.py) -------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_tests_marked_postgres_run_on_postgresql():
    assert connection.vendor == "postgresql"


def test_redis_url_fixture_gives_an_empty_reachable_database(redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    assert client.dbsize() == 0


MISSING_SERVICE_PROBE = """
import pytest

@pytest.mark.postgres
def test_marked_postgres():
    pass

@pytest.mark.redis
def test_marked_redis():
    pass

def test_uses_redis_url(redis_url):
    pass
"""


@FRESH_PYTHON
@pytest.mark.parametrize(
    ("ci", "outcome"), [("", {"skipped": 3}), ("true", {"errors": 3})], ids=["laptop", "ci"]
)
def test_missing_services_skip_on_a_laptop_and_fail_in_ci(pytester, monkeypatch, ci, outcome):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = config.settings\n"
        "markers =\n    postgres: needs PostgreSQL\n    redis: needs Redis\n"
    )
    pytester.makepyfile(MISSING_SERVICE_PROBE)
    monkeypatch.setenv("CI", ci)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # so the database is SQLite
    monkeypatch.setenv("TEST_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    result = pytester.runpytest_subprocess("-ra", "-p", "no:cacheprovider")

    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*needs PostgreSQL, but the database is sqlite3*"])
    result.stdout.fnmatch_lines(["*needs Redis, but redis://127.0.0.1:9/0 does not answer*"])
