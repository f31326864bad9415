"""The command line of engine-io.md: exit codes, one-line messages, stdin, --codebook DIR, streaming output."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from charges.engine import ENGINE_VERSION
from charges.engine.cli import run
from charges.engine.snapshot import SEED_DIR

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
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
        },
    ],
}
BAD = {
    "id": "E2",
    "setting": "facility",
    "administrations": [{"id": "A1", "drug": "x", "route": "iv_infusion", "start": "not a time"}],
}


def cli(*args, stdin: bytes | None = None):
    return subprocess.run(
        [sys.executable, "-m", "charges.engine", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=120
    )


def test_file_input_and_document_shape(tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"encounters": [GOOD, BAD]}))
    done = cli(str(source))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine_version"] == ENGINE_VERSION and result["codebook_version"] == "2025.1"
    first, second = result["encounters"]
    assert [(x["code"], x["units"]) for x in first["lines"]] == [("96413", 1), ("96415", 3), ("J9312", 70)]
    assert second["lines"] == [] and [e["code"] for e in second["errors"]] == ["BAD_TIME"]
    assert done.stderr == b""


def test_stdin():
    done = cli("-", stdin=json.dumps({"encounters": [GOOD]}).encode())
    assert done.returncode == 0
    assert json.loads(done.stdout)["encounters"][0]["id"] == "E1"


def test_not_json_exits_2_with_one_line():
    done = cli("-", stdin=b"{not json")
    assert done.returncode == 2 and done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "not JSON" in lines[0] and "Traceback" not in done.stderr.decode()


def test_no_encounters_list_exits_2():
    for document in (b'{"encounter": []}', b"[]", b'{"encounters": {"a": 1}}'):
        done = cli("-", stdin=document)
        assert done.returncode == 2
        assert len(done.stderr.decode().splitlines()) == 1


def test_missing_file_and_bad_codebook_exit_2(tmp_path):
    done = cli(str(tmp_path / "nope.json"))
    assert done.returncode == 2 and len(done.stderr.decode().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    done = cli("--codebook", str(empty), "-", stdin=b'{"encounters": []}')
    assert done.returncode == 2 and "cannot load the codebook" in done.stderr.decode()


def test_codebook_dir_changes_the_rules(tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed)
    path = seed / "drugs.csv"
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0])
    for row in rows:
        if row["hcpcs"] == "J9312":
            row["billing_unit_amount"] = "100"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (seed / "VERSION").write_text("test.1\n")
    done = cli("--codebook", str(seed), "-", stdin=json.dumps({"encounters": [GOOD]}).encode())
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["codebook_version"] == "test.1"
    assert [x["units"] for x in result["encounters"][0]["lines"] if x["code"] == "J9312"] == [7]


def test_bad_seed_cell_names_file_row_and_column(tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed)
    text = (
        (seed / "procedure_codes.csv").read_text().replace(",initial,facility|professional,1,", ",initial,office,1,", 1)
    )
    (seed / "procedure_codes.csv").write_text(text)
    done = cli("--codebook", str(seed), "-", stdin=b'{"encounters": []}')
    message = done.stderr.decode()
    assert done.returncode == 2 and "procedure_codes.csv" in message and "row 2" in message and "settings" in message


def test_run_in_process_writes_bytes_and_keeps_order():
    out = io.BytesIO()
    err = io.StringIO()
    many = [dict(GOOD, id=f"E{n}") for n in range(50)]
    status = run(["-"], stdin=io.BytesIO(json.dumps({"encounters": many}).encode()), stdout=out, stderr=err)
    assert status == 0 and err.getvalue() == ""
    assert [e["id"] for e in json.loads(out.getvalue())["encounters"]] == [f"E{n}" for n in range(50)]


def test_same_input_gives_byte_identical_output():
    document = json.dumps({"encounters": [GOOD, BAD]}).encode()
    assert cli("-", stdin=document).stdout == cli("-", stdin=document).stdout


def test_usage_errors_are_one_line():
    done = cli("--bogus")
    assert done.returncode == 2 and len(done.stderr.decode().splitlines()) == 1
    done = cli()
    assert done.returncode == 2 and len(done.stderr.decode().splitlines()) == 1


def test_parallel_output_is_identical_to_single_process(monkeypatch):
    from charges.engine import cli as cli_module

    many = [dict(GOOD, id=f"E{n}") for n in range(40)] + [dict(BAD, id="B")]
    document = json.dumps({"encounters": many}).encode()

    def output() -> bytes:
        out = io.BytesIO()
        assert run(["-"], stdin=io.BytesIO(document), stdout=out, stderr=io.StringIO()) == 0
        return out.getvalue()

    monkeypatch.setenv("ENGINE_SINGLE_PROCESS", "1")
    single = output()
    monkeypatch.delenv("ENGINE_SINGLE_PROCESS")
    monkeypatch.setattr(cli_module, "PARALLEL_MIN_ENCOUNTERS", 10)
    monkeypatch.setattr(cli_module, "CHUNK", 7)
    monkeypatch.setattr(cli_module, "_worker_count", lambda count: 2)
    assert output() == single
    assert json.loads(single)["encounters"][-1]["errors"][0]["code"] == "BAD_TIME"
