"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) are kept,
and no module of one package imports another package inside a function, where a cycle could
hide (within a package too)."""

import ast
import pathlib

from importlinter import configuration
from importlinter.application.use_cases import lint_imports  # the `lint-imports` command

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("clinic", "config", "core", "intake", "interop", "screening")
# An AppConfig.ready() importing the module that connects signal receivers is Django's idiom
# (the app registry is not ready when apps.py is imported), not a dodged cycle.
READY_HOOKS = "apps.py"


def test_the_import_linter_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    configuration.configure()

    assert lint_imports(cache_dir=None, no_logo=True)  # True: every contract kept (it prints
    # what broke otherwise)


def _function_level_imports(path: pathlib.Path):
    """(imported module, line) for each import inside a function or method of ``path``."""
    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import):
                yield from ((alias.name, child.lineno) for alias in child.names)
            elif in_function and isinstance(child, ast.ImportFrom) and child.level == 0:
                yield child.module or "", child.lineno
            yield from walk(child, inside)

    return walk(ast.parse(path.read_text()), False)


def test_no_package_imports_another_inside_a_function():
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue
            for module, line in _function_level_imports(path):
                top = module.split(".")[0]
                if top in PACKAGES and path.name != READY_HOOKS:
                    found.append(f"{relative}:{line} imports {module}")

    assert found == []
