"""Same input and rules data, same bytes (issue 3: auditors re-run a past day and get the same lines).

The command line's output is byte-identical across runs, whatever the order of the administrations
in each encounter, whether the input comes from a file or stdin, and when ``--codebook DIR`` points
at a copy of the shipped seed.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from charges.engine.snapshot import SEED_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_INPUT = Path(__file__).resolve().parent / "golden" / "public-input.json"
GEN_ENCOUNTERS = PROJECT_ROOT.parent / "shared" / "tools" / "gen-encounters"


def cli(*arguments: str, stdin: bytes | None = None) -> bytes:
    run = subprocess.run(
        [sys.executable, "-m", "charges.engine", *arguments],
        input=stdin,
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert run.stderr == b""
    return run.stdout


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, Path]:
    """The public scenarios and, when the shared generator is there, 400 synthetic encounters."""
    found = {"public": GOLDEN_INPUT}
    if GEN_ENCOUNTERS.exists():
        path = tmp_path_factory.mktemp("generated") / "generated.json"
        subprocess.run(
            [sys.executable, str(GEN_ENCOUNTERS), "--count", "400", "--seed", "11", "-o", str(path)], check=True
        )
        found["generated"] = path
    return found


def shuffled(path: Path, seed: int, directory: Path) -> Path:
    document = json.loads(path.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    moved = 0
    for encounter in document["encounters"]:
        administrations = encounter["administrations"]
        before = [a["id"] for a in administrations]
        rng.shuffle(administrations)
        moved += before != [a["id"] for a in administrations]
    assert moved, "the shuffle moved nothing"
    target = directory / f"{path.stem}-shuffled-{seed}.json"
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


@pytest.mark.parametrize("name", ["public", "generated"])
def test_two_runs_give_the_same_bytes(documents, name):
    if name not in documents:
        pytest.skip("../shared/tools/gen-encounters is not there")
    first = cli(str(documents[name]))
    assert json.loads(first)["encounters"]
    assert cli(str(documents[name])) == first


@pytest.mark.parametrize("name", ["public", "generated"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_order_of_administrations_does_not_change_a_byte(documents, name, seed, tmp_path):
    if name not in documents:
        pytest.skip("../shared/tools/gen-encounters is not there")
    assert cli(str(shuffled(documents[name], seed, tmp_path))) == cli(str(documents[name]))


def test_stdin_gives_the_same_bytes_as_a_file(documents):
    path = documents["public"]
    assert cli("-", stdin=path.read_bytes()) == cli(str(path))


def test_a_copy_of_the_seed_as_codebook_gives_the_same_bytes(documents, tmp_path):
    copy = tmp_path / "seed-copy"
    shutil.copytree(SEED_DIR, copy)
    for name, path in documents.items():
        assert cli("--codebook", str(copy), str(path)) == cli(str(path)), name


def test_a_changed_codebook_is_really_used(documents, tmp_path):
    """Guards the previous test: --codebook is read (a seed with other billing units changes the drug lines)."""
    copy = tmp_path / "seed-changed"
    shutil.copytree(SEED_DIR, copy)
    drugs = copy / "drugs.csv"
    text = drugs.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    column = header.index("billing_unit_amount")
    (row,) = [index for index, line in enumerate(lines) if line.startswith("J9312,")]
    cells = lines[row].rstrip("\r\n").split(",")
    assert cells[column] == "10"
    cells[column] = "100"
    lines[row] = ",".join(cells) + "\n"
    drugs.write_text("".join(lines), encoding="utf-8")
    document = {
        "encounters": [
            {
                "id": "E1",
                "setting": "facility",
                "administrations": [
                    {
                        "id": "A1",
                        "drug": "rituximab",
                        "hcpcs": "J9312",
                        "route": "iv_infusion",
                        "start": "2025-03-04T10:00",
                        "stop": "2025-03-04T14:10",
                        "dose": 700,
                        "dose_unit": "mg",
                        "wasted": 0,
                    }
                ],
            }
        ]
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    def drug_units(output: bytes) -> int:
        lines = json.loads(output)["encounters"][0]["lines"]
        return sum(line["units"] for line in lines if line["code"] == "J9312")

    assert drug_units(cli(str(path))) == 70
    assert drug_units(cli("--codebook", str(copy), str(path))) == 7
