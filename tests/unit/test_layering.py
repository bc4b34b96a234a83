"""The core never imports Textual: checked by import-linter and by a plain AST scan."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "mailwizard"
UI_MODULES = {"app.py"}  # the only module under mailwizard/ that may import textual


def test_import_linter_contract_kept() -> None:
    exe = shutil.which("lint-imports")
    assert exe is not None, "lint-imports (import-linter) is not installed"
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.relative_to(CORE).as_posix()
                  not in UI_MODULES)


def test_no_core_module_imports_textual() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_modules(path)
                                            if n == "textual" or n.startswith("textual."))
        for path in core_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_scan_sees_the_core() -> None:
    names = {p.relative_to(CORE).as_posix() for p in core_files()}
    assert {"cli.py", "system.py", "apply.py", "steps/base.py"} <= names
    assert "app.py" not in names


@pytest.mark.parametrize("source", ["import textual\n", "from textual.app import App\n",
                                    "import os, textual.widgets\n",
                                    "def f():\n    from textual import on\n"])
def test_scan_catches_every_import_form(tmp_path: Path, source: str) -> None:
    module = tmp_path / "m.py"
    module.write_text(source)
    assert any(n.split(".")[0] == "textual" for n in imported_modules(module))


def core_module_names() -> list[str]:
    return sorted(("mailwizard." + p.relative_to(CORE).with_suffix("").as_posix()
                   .replace("/", ".")).removesuffix(".__init__") for p in core_files()
                  if p.name != "__main__.py")


@pytest.mark.parametrize("module", core_module_names())
def test_core_module_imports_without_textual(module: str) -> None:
    """Imported in a fresh interpreter, no core module pulls Textual in (even indirectly)."""
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual' "
            "or m.split('.')[:2] in (['mailwizard', 'app'], ['mailwizard', 'screens'])))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{module} imports {done.stdout.strip()}"


UI_ROUTES = {("cli.py", "mailwizard.app")}  # the CLI opens the app, lazily


def test_no_core_module_imports_the_app_or_the_screens() -> None:
    offenders = sorted(
        (path.relative_to(CORE).as_posix(), name) for path in core_files()
        for name in imported_modules(path)
        if name.split(".")[:2] in (["mailwizard", "app"], ["mailwizard", "screens"])
        and (path.relative_to(CORE).as_posix(), name) not in UI_ROUTES)
    assert offenders == []
