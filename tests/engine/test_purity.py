"""The engine is pure Python: no Django, no app of the project (issue 3; style.md, import direction).

1. The command line runs over the public scenarios in a subprocess whose import hook refuses every
   ``django`` module, and prints the same bytes as an ordinary run.
2. A static scan: no file under ``charges/engine`` imports Django or one of the project's apps.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENGINE_DIR = PROJECT_ROOT / "charges" / "engine"
GOLDEN_INPUT = Path(__file__).resolve().parent / "golden" / "public-input.json"

BOOTSTRAP = r"""
import atexit, runpy, sys

attempts = []
log_path = sys.argv[1]


class RefuseDjango:
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            attempts.append(name)
            raise ImportError(f"import of {name} refused: charges.engine must not use Django")
        return None


def report():
    with open(log_path, "w") as handle:
        handle.write("\n".join(attempts))


atexit.register(report)
sys.meta_path.insert(0, RefuseDjango())
sys.argv = ["charges.engine", *sys.argv[2:]]
runpy.run_module("charges.engine", run_name="__main__", alter_sys=True)
"""


def app_packages() -> set[str]:
    """Top-level packages of the project that are Django apps or the project package."""
    names = {path.parent.name for path in PROJECT_ROOT.glob("*/apps.py")}
    names |= {path.parent.name for path in PROJECT_ROOT.glob("*/settings.py")}
    return names | {"accounts", "audit", "codebook", "charges", "infusioncenter"}


def test_command_line_runs_with_django_imports_refused(tmp_path):
    log = tmp_path / "refused.txt"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    hooked = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(log), str(GOLDEN_INPUT)],
        capture_output=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=300,
    )
    assert hooked.returncode == 0, hooked.stderr.decode(errors="replace")[-3000:]
    assert log.read_text() == "", f"the engine tried to import: {log.read_text()}"
    plain = subprocess.run(
        [sys.executable, "-m", "charges.engine", str(GOLDEN_INPUT)], capture_output=True, cwd=PROJECT_ROOT, timeout=300
    )
    assert plain.returncode == 0
    assert hooked.stdout == plain.stdout
    output = json.loads(hooked.stdout)
    scenario_ids = [e["id"] for e in json.loads(GOLDEN_INPUT.read_text(encoding="utf-8"))["encounters"]]
    assert [e["id"] for e in output["encounters"]] == scenario_ids
    assert not any(e["errors"] for e in output["encounters"])
    assert sum(len(e["lines"]) for e in output["encounters"]) >= len(scenario_ids)


def test_the_hook_does_refuse_django(tmp_path):
    """The bootstrap really blocks Django: a module that imports it fails under the hook."""
    log = tmp_path / "refused.txt"
    probe = tmp_path / "probe_pkg"
    probe.mkdir()
    (probe / "__init__.py").write_text("")
    (probe / "__main__.py").write_text("import django\n")
    bootstrap = BOOTSTRAP.replace('"charges.engine", run_name', '"probe_pkg", run_name')
    run = subprocess.run(
        [sys.executable, "-c", bootstrap, str(log)],
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode != 0
    assert b"import of django refused" in run.stderr
    assert log.read_text() == "django"


def imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative imports resolved."""
    source = path.read_text(encoding="utf-8") if source is None else source
    package = path.relative_to(PROJECT_ROOT).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
                found += [(node.lineno, name) for name in names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def forbidden(module: str, apps: set[str]) -> bool:
    root = module.split(".")[0]
    if root == "django":
        return True
    if module == "charges" or (root == "charges" and not module.startswith("charges.engine")):
        return True
    return root in apps - {"charges"}


def test_no_engine_file_imports_django_or_an_app():
    files = sorted(ENGINE_DIR.rglob("*.py"))
    assert files, "charges/engine has no Python files"
    apps = app_packages()
    offending = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {module}"
        for path in files
        for line, module in imported_modules(path)
        if forbidden(module, apps)
    ]
    assert offending == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import django.db\n", True),
        ("from django import forms\n", True),
        ("from codebook.models import Drug\n", True),
        ("import accounts\n", True),
        ("from .. import models\n", True),  # charges.models
        ("from ..services import encounters\n", True),
        ("from charges.engine.api import derive_encounter\n", False),
        ("from . import snapshot\n", False),
        ("from .snapshot import load_seed_book\n", False),
        ("import importlib\nimportlib.import_module('django.conf')\n", True),
        ("import json, decimal\n", False),
    ],
)
def test_the_static_scan_sees_forbidden_imports(source, bad):
    found = imported_modules(ENGINE_DIR / "rules_probe.py", source)
    assert any(forbidden(module, app_packages()) for _, module in found) is bad
