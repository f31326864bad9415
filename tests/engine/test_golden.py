"""Golden output of the command line over the public scenarios: an output change needs a new ENGINE_VERSION.

``golden/public-input.json`` is the engine input made from ``../shared/scenarios/public.json`` the way
``../shared/tools/check-scenarios`` makes it (its ``to_input``); ``golden/public.json`` is what
``python -m charges.engine`` printed for it, re-indented for readable diffs (it carries the
``engine_version`` and ``codebook_version`` of the run).

The test fails when the output differs from the golden file while ``charges.engine.ENGINE_VERSION``
is unchanged, and when ENGINE_VERSION changed but the golden file was not regenerated.

To regenerate after a deliberate change of output (bump ENGINE_VERSION first), from the project root:

    python -m tests.engine.test_golden --update

It refuses to overwrite a golden file whose output differs under the same ENGINE_VERSION, and to
write one while ``check-scenarios`` fails on the public scenarios. Review the diff before committing.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GOLDEN_INPUT = GOLDEN_DIR / "public-input.json"
GOLDEN_OUTPUT = GOLDEN_DIR / "public.json"
SHARED = PROJECT_ROOT.parent / "shared"
SCENARIOS = SHARED / "scenarios" / "public.json"
CHECKER = SHARED / "tools" / "check-scenarios"


def load_checker():
    """The check-scenarios script as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("check_scenarios", str(CHECKER))
    spec = importlib.util.spec_from_loader("check_scenarios", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def scenario_input() -> dict:
    """The engine input document check-scenarios builds from the public scenarios."""
    scenarios = json.loads(SCENARIOS.read_text(encoding="utf-8"))
    return {"encounters": [load_checker().to_input(scenario) for scenario in scenarios]}


def render(document: dict) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def run_cli(input_path: Path) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "charges.engine", str(input_path)],
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    return json.loads(run.stdout)


def current_engine_version() -> str:
    from charges.engine import ENGINE_VERSION

    return ENGINE_VERSION


def differing(old: dict, new: dict) -> list[str]:
    """Ids of the encounters whose output changed (or appeared, or disappeared)."""
    before = {e["id"]: e for e in old.get("encounters", [])}
    after = {e["id"]: e for e in new.get("encounters", [])}
    changed = [key for key in after if before.get(key) != after[key]]
    return changed + [key for key in before if key not in after]


@pytest.mark.skipif(not SCENARIOS.exists(), reason="../shared/scenarios/public.json is not there")
def test_golden_input_is_made_from_the_public_scenarios():
    assert json.loads(GOLDEN_INPUT.read_text(encoding="utf-8")) == scenario_input(), (
        "the public scenarios changed: regenerate with python -m tests.engine.test_golden --update"
    )


def test_output_changes_only_with_a_new_engine_version():
    golden = json.loads(GOLDEN_OUTPUT.read_text(encoding="utf-8"))
    version = current_engine_version()
    output = run_cli(GOLDEN_INPUT)
    assert output["engine_version"] == version
    if golden["engine_version"] != version:
        pytest.fail(
            f"ENGINE_VERSION is {version} but the golden output is of {golden['engine_version']}: "
            "regenerate it with python -m tests.engine.test_golden --update and review the diff"
        )
    if render(output) != GOLDEN_OUTPUT.read_text(encoding="utf-8"):
        changed = differing(golden, output)
        pytest.fail(
            f"the output changed under the same ENGINE_VERSION {version} for {changed or 'the document header'}: "
            "fix the regression, or bump ENGINE_VERSION and regenerate the golden file"
        )


def update(*, allow_failing_scenarios: bool = False) -> int:
    """Rewrite the golden input and output; refuses an output change under the same ENGINE_VERSION."""
    document = scenario_input()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    check = subprocess.run([str(CHECKER), str(SCENARIOS)], capture_output=True, text=True, cwd=PROJECT_ROOT)
    if check.returncode != 0 and not allow_failing_scenarios:
        print(check.stdout[-3000:])
        print("check-scenarios fails: the golden output is not written (--allow-failing-scenarios to force)")
        return 1
    GOLDEN_INPUT.write_text(render(document), encoding="utf-8")
    output = run_cli(GOLDEN_INPUT)
    if GOLDEN_OUTPUT.exists():
        golden = json.loads(GOLDEN_OUTPUT.read_text(encoding="utf-8"))
        same_version = golden["engine_version"] == output["engine_version"]
        if same_version and render(golden) != render(output):
            print(
                f"the output changed under the same ENGINE_VERSION {output['engine_version']} for "
                f"{differing(golden, output)}: bump ENGINE_VERSION first; the golden output is kept"
            )
            return 1
    GOLDEN_OUTPUT.write_text(render(output), encoding="utf-8")
    print(
        f"wrote {GOLDEN_OUTPUT.relative_to(PROJECT_ROOT)} (engine {output['engine_version']}, "
        f"codebook {output['codebook_version']}, {len(output['encounters'])} encounters)"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="regenerate the golden files")
    parser.add_argument("--allow-failing-scenarios", action="store_true")
    arguments = parser.parse_args()
    if not arguments.update:
        parser.error("nothing to do: pass --update (run the test itself with pytest)")
    sys.exit(update(allow_failing_scenarios=arguments.allow_failing_scenarios))
