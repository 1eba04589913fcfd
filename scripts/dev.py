#!/usr/bin/env python3
"""The two developer commands, for a fresh clone with nothing but Python 3.11+ installed.

    python3 scripts/dev.py serve [--port 8000]   set up, migrate, seed the demo, run the server
    python3 scripts/dev.py test [pytest args]    set up, then ruff, the migrations check, pytest

The fast selection, ``test -m "not e2e"`` (any ``-m`` expression with ``not e2e`` in it), runs
on as many CPUs as there are, up to four (pytest-xdist's ``-n``; each worker has its own test
database and Redis database, see tests/conftest.py), unless the arguments choose for themselves
(``-n``, ``--numprocesses``, ``--dist``, ``-p no:xdist``) or one CPU is all there is.  The whole
suite (``test`` with no ``-m``) is three runs of pytest, each so: the fast selection, the
browser tests, then the other e2e tests; the command fails if any does.  Any other ``-m``
selection runs in one process.

Setting up means: create ``.venv`` in the project folder if it is missing, and install the
project with its dev extras into it (``pip install ".[dev]"``), skipped when ``pyproject.toml``
has not changed since the last successful install.  Delete ``.venv`` to start over.

Standard library only, and the same on Linux, macOS and Windows.  The environment decides the
database and broker as it does for ``manage.py``: with ``DATABASE_URL`` and ``REDIS_URL`` unset,
an SQLite file and in-process tasks.  Both commands set ``DJANGO_DEBUG=true`` unless it is set.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

MINIMUM_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
INSTALL_STAMP = VENV / ".dev-install-stamp"
PYTEST_NO_TESTS_COLLECTED = 5
# More workers than this cost more in start-up (each migrates its own test database) than they
# save on a suite of this size.
MOST_PYTEST_WORKERS = 4


class StepFailed(Exception):
    """A step of the command failed; its output has already been shown."""


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def call(*args: str | Path) -> int:
    """Run one of this script's own commands (never a shell) in the project folder."""
    return subprocess.call([str(arg) for arg in args], cwd=ROOT)  # noqa: S603


def run(*args: str | Path, what: str) -> None:
    """Run a command; raise StepFailed naming ``what`` if it fails."""
    returncode = call(*args)
    if returncode != 0:
        raise StepFailed(f"{what} failed (exit code {returncode}).")


def install_fingerprint() -> str:
    """What the installed packages depend on: pyproject.toml, and the venv's Python (whose
    version pyvenv.cfg records)."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    venv_config = VENV / "pyvenv.cfg"
    if venv_config.exists():
        digest.update(venv_config.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> Path:
    """Create the venv if needed and install the project into it; return the venv's Python."""
    python = venv_python()
    if not python.exists():
        say(f"Creating the virtual environment in {VENV.relative_to(ROOT)}/")
        run(sys.executable, "-m", "venv", VENV, what="Creating the virtual environment")
    fingerprint = install_fingerprint()
    if INSTALL_STAMP.exists() and INSTALL_STAMP.read_text().strip() == fingerprint:
        return python
    say('Installing the project and its dev tools (pip install ".[dev]"); the first time '
        "takes a minute or two")
    INSTALL_STAMP.unlink(missing_ok=True)
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", ".[dev]",
        what="Installing the project (if .venv/ is broken, delete it and run this again)")
    INSTALL_STAMP.write_text(fingerprint + "\n")
    return python


def serve(python: Path, options: argparse.Namespace) -> int:
    manage = ROOT / "manage.py"
    say("Applying migrations")
    run(python, manage, "migrate", "--noinput", what="manage.py migrate")
    say("Adding the demo logins")
    run(python, manage, "seed_demo", what="manage.py seed_demo")
    address = f"127.0.0.1:{options.port}"
    say(f"Starting the server: http://{address}/  (Ctrl-C stops it)")
    try:
        return call(python, manage, "runserver", address)
    except KeyboardInterrupt:
        return 0


def test(python: Path, options: argparse.Namespace) -> int:
    """Run every check even when an earlier one fails, so one run shows all the problems."""
    failures = []
    for what, args in [
        ("ruff check", ["-m", "ruff", "check", "."]),
        ("makemigrations --check (run `manage.py makemigrations` and commit the result)",
         [ROOT / "manage.py", "makemigrations", "--check", "--dry-run"]),
    ]:
        say(what)
        try:
            run(python, *args, what=what)
        except StepFailed as failure:
            failures.append(str(failure))
    say("pytest")
    returncode = run_pytest(python, options.pytest_args)
    if returncode != 0:
        failures.append(f"pytest failed (exit code {returncode}).")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cpus() -> int:
    return os.cpu_count() or 1


def marker_expressions(args: list[str]) -> list[str]:
    """The ``-m`` expressions among ``args``, white space folded."""
    expressions = [value for option, value in itertools.pairwise(args) if option == "-m"]
    expressions += [arg.removeprefix("-m") for arg in args if arg.startswith("-m") and arg != "-m"]
    return [" ".join(expression.split()) for expression in expressions]


def leaves_out_e2e(args: list[str]) -> bool:
    """Whether ``args`` select by a marker expression that says ``not e2e``."""
    return any("not e2e" in expression for expression in marker_expressions(args))


def chooses_workers(args: list[str]) -> bool:
    """Whether ``args`` say themselves how pytest-xdist runs (or that it does not)."""
    return any(arg in ("-n", "--numprocesses", "--dist", "no:xdist")
               or arg.startswith(("-n", "--numprocesses=", "--dist=", "-pno:xdist"))
               for arg in args)


def workers() -> int:
    return min(cpus(), MOST_PYTEST_WORKERS)


def parallel_args(args: list[str]) -> list[str]:
    """pytest-xdist's options for ``args``: for the fast selection, a worker per CPU, at most
    MOST_PYTEST_WORKERS; none when the arguments choose for themselves, select anything else, or
    there is only one CPU."""
    if chooses_workers(args) or workers() < 2 or not leaves_out_e2e(args):
        return []
    return ["-n", str(workers())]


def phases(args: list[str]) -> list[list[str]]:
    """The pytest runs that ``args`` make.  Without a marker expression or a choice of workers,
    on more than one CPU, three, each in parallel: what the fast selection runs, then the
    browser tests (every worker has its own database, live server and browser), then the other
    e2e tests (every worker has its own database and Redis database, and each test its own
    redis-server, SMTP server, Celery processes and ports; most of their time is spent waiting
    on those, which another worker's test can use).  The browser tests run apart from the other
    e2e tests so that neither's time limits are measured against the other's load.  Otherwise
    one, as asked (in parallel for the fast selection)."""
    if marker_expressions(args) or chooses_workers(args) or workers() < 2:
        return [[*parallel_args(args), *args]]
    spread = ["-n", str(workers())]
    return [[*spread, "-m", selection, *args]
            for selection in ("not e2e", "e2e and browser", "e2e and not browser")]


def run_pytest(python: Path | str, args: list[str]) -> int:
    """Run pytest (``phases``); 'no tests collected' counts as a failure, as a suite that tests
    nothing, unless another phase collected some."""
    returncodes = [call(python, "-m", "pytest", *phase) for phase in phases(args)]
    if all(code == PYTEST_NO_TESTS_COLLECTED for code in returncodes):
        print("pytest collected no tests: counted as a failure.", file=sys.stderr)
        return PYTEST_NO_TESTS_COLLECTED
    return max((code for code in returncodes if code != PYTEST_NO_TESTS_COLLECTED), default=0)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 scripts/dev.py", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve", help="set up, migrate, add the demo logins and run the development server"
    )
    serve_parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    serve_parser.set_defaults(handler=serve)
    test_parser = commands.add_parser(
        "test",
        help="set up, then run ruff, the migrations check and pytest",
        description="Arguments after `test` go to pytest, e.g. `test -k queue -x`.",
    )
    test_parser.set_defaults(handler=test)
    # Everything the `test` parser does not know belongs to pytest (argparse.REMAINDER would
    # reject a leading option such as -k).
    options, extra = parser.parse_known_args(argv)
    if extra and options.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    options.pytest_args = extra[1:] if extra[:1] == ["--"] else extra
    return options


def main(argv: list[str]) -> int:
    if sys.version_info < MINIMUM_PYTHON:
        print(f"This project needs Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer; "
              f"this is {sys.version.split()[0]}. Run this script with a newer python3.",
              file=sys.stderr)
        return 2
    options = parse_args(argv)
    # Both commands are for a laptop: debug on (the settings default it to off, for production),
    # unless the environment says otherwise.  The processes started below inherit it.
    os.environ.setdefault("DJANGO_DEBUG", "true")
    try:
        python = ensure_environment()
        return options.handler(python, options)
    except StepFailed as failure:
        print(f"\n{failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
