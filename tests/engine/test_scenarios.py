"""Every public scenario (../shared/scenarios/public.json) through the engine, compared exactly as the shared
checker compares (its own ``to_input`` and ``compare`` functions): lines of the compared families, units per
code/modifiers/date, order when the scenario says so, and the expected warnings."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

from charges.engine.api import derive_encounter
from charges.engine.snapshot import load_seed_book

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCENARIOS = SHARED / "scenarios" / "public.json"
CHECKER = SHARED / "tools" / "check-scenarios"

pytestmark = pytest.mark.skipif(not SCENARIOS.exists(), reason="shared scenarios not available")


def _checker():
    loader = importlib.machinery.SourceFileLoader("check_scenarios", str(CHECKER))
    spec = importlib.util.spec_from_loader("check_scenarios", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _scenarios():
    if not SCENARIOS.exists():
        return []
    return json.loads(SCENARIOS.read_text())


BOOK = load_seed_book()


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s["id"])
def test_public_scenario(scenario):
    checker = _checker()
    produced = derive_encounter(checker.to_input(scenario), BOOK)
    problems, _ = checker.compare(scenario, produced)
    explanations = [f"{line['code']} x{line['units']}: {line['explanation']}" for line in produced["lines"]]
    assert problems == [], "\n".join(problems + explanations)


def test_there_are_public_scenarios():
    assert len(_scenarios()) >= 60
