"""Code-quality gates that run with the tests: the core stays free of Qt, and the
linters and the type checker pass."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "app" / "core"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy")


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_sources_never_import_qt() -> None:
    offenders = {
        str(p.relative_to(REPO)): sorted(_imported_roots(p) & set(QT_MODULES))
        for p in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted(CORE.rglob("*.py"))
    ]
    assert len(modules) > 40  # every room's modules, not just the top level
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; install the test extras: pip install -e '.[test]'")
    return found


@pytest.mark.slow
def test_ruff_lint_passes() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "app", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "app", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_import_layers_hold() -> None:
    """The contracts in pyproject.toml: core under ui and cli, rooms in their layers."""
    result = subprocess.run([_tool("lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_passes() -> None:
    result = subprocess.run([_tool("mypy")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _classes() -> list[tuple[str, ast.ClassDef]]:
    found = []
    for path in sorted((REPO / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = str(path.relative_to(REPO))
        found += [(rel, n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    return found


def _signals(node: ast.ClassDef) -> list[str]:
    return [
        target.id
        for statement in node.body
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Call)
        and getattr(statement.value.func, "id", None) == "Signal"
        for target in statement.targets
        if isinstance(target, ast.Name)
    ]


def test_every_class_says_what_it_is() -> None:
    undocumented = [
        f"{rel}:{n.lineno} {n.name}" for rel, n in _classes() if not ast.get_docstring(n)
    ]
    assert undocumented == []


def test_every_signal_is_listed_with_its_payload() -> None:
    """A ``Signals:`` section in the class docstring names each signal (habit from
    qutebrowser), so a reader of a view knows what it may connect to and receives."""
    lacking = {}
    for rel, node in _classes():
        doc = ast.get_docstring(node) or ""
        section = doc.split("Signals:", 1)[1] if "Signals:" in doc else ""
        missing = [name for name in _signals(node) if name not in section]
        if missing:
            lacking[f"{rel}:{node.lineno} {node.name}"] = missing
    assert lacking == {}


def test_no_module_is_over_400_lines_and_no_folder_over_15_modules() -> None:
    app = REPO / "app"
    lines = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
             for p in app.rglob("*.py")}  # fmt: skip
    modules = {str(d.relative_to(REPO)): len([m for m in d.glob("*.py") if m.stem != "__init__"])
               for d in [app, *app.rglob("*")] if d.is_dir()}  # fmt: skip
    assert {k: n for k, n in lines.items() if n > 400} == {}
    assert {k: n for k, n in modules.items() if n > 15} == {}
