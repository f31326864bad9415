"""manage.py derive_charges: the engine with the database codebook, byte for byte the command line's output.

Covers issue 3 item 4's last bullet: with the codebook loaded from the seed, the output equals
``python -m charges.engine`` on the public scenarios; after a drug's billing unit changes in the
database, derive_charges follows it and the command line (which reads the seed files) does not.
"""

from __future__ import annotations

import datetime
import importlib.machinery
import importlib.util
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from codebook.models import Drug
from codebook.selectors import clear_rules_book_cache
from codebook.services import codebook_load_seed, codebook_new_version

ROOT = Path(settings.BASE_DIR)
SCENARIOS = ROOT.parent / "shared" / "scenarios" / "public.json"
CHECKER = ROOT.parent / "shared" / "tools" / "check-scenarios"

needs_shared = pytest.mark.skipif(
    not (SCENARIOS.exists() and CHECKER.exists()), reason="../shared scenarios and checker not present"
)

RITUXIMAB = {
    "encounters": [
        {
            "id": "E1",
            "setting": "facility",
            "payer": "medicare",
            "timezone": "America/New_York",
            "administrations": [
                {
                    "id": "A1",
                    "drug": "rituximab",
                    "hcpcs": "J9312",
                    "category": "chemo",
                    "route": "iv_infusion",
                    "site": "A",
                    "start": "2025-03-04T10:00",
                    "stop": "2025-03-04T14:10",
                    "dose": 700,
                    "dose_unit": "mg",
                    "wasted": 0,
                    "single_dose_container": True,
                }
            ],
        }
    ]
}


def scenario_document() -> dict:
    """The public scenarios as one input document, built the way ../shared/tools/check-scenarios builds it."""
    loader = importlib.machinery.SourceFileLoader("check_scenarios", str(CHECKER))
    spec = importlib.util.spec_from_loader("check_scenarios", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    scenarios = json.loads(SCENARIOS.read_text(encoding="utf-8"))
    return {"encounters": [module.to_input(scenario) for scenario in scenarios]}


def cli(path: Path | str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "charges.engine", str(path)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def derive(path: Path | str) -> tuple[int, bytes, str]:
    """Run derive_charges in this process (the test database is visible only here): (status, stdout, stderr)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    status = 0
    try:
        call_command("derive_charges", str(path), stdout=out, stderr=err)
    except SystemExit as stop:
        status = stop.code
    out.flush()
    return status, out.buffer.getvalue(), err.getvalue()


@pytest.fixture
def seeded(db):
    clear_rules_book_cache()
    result = codebook_load_seed(force=False)
    yield result
    clear_rules_book_cache()


@pytest.fixture
def write_json(tmp_path):
    def write(document, name="input.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write


@needs_shared
@pytest.mark.django_db
def test_public_scenarios_are_byte_identical_to_the_command_line(seeded, write_json):
    path = write_json(scenario_document())
    expected = cli(path)
    assert expected.returncode == 0, expected.stderr.decode()
    status, output, errors = derive(path)
    assert (status, errors) == (0, "")
    assert output == expected.stdout
    assert len(json.loads(output)["encounters"]) == len(json.loads(SCENARIOS.read_text(encoding="utf-8")))


@pytest.mark.django_db
def test_reads_standard_input(seeded, monkeypatch):
    data = json.dumps(RITUXIMAB).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    status, output, _ = derive("-")
    assert status == 0
    assert output == cli("-", stdin=data).stdout


def drug_units(output: bytes, code: str) -> int:
    lines = json.loads(output)["encounters"][0]["lines"]
    return sum(line["units"] for line in lines if line["code"] == code)


@pytest.mark.django_db
def test_a_billing_unit_changed_in_the_database_is_followed_by_derive_charges_only(seeded, write_json, admin_user):
    path = write_json(RITUXIMAB)
    before = cli(path).stdout
    status, output, _ = derive(path)
    assert status == 0 and output == before
    assert drug_units(output, "J9312") == 70  # 700 mg at 10 mg per unit

    rituximab = Drug.objects.get(hcpcs="J9312")
    codebook_new_version(
        row=rituximab, valid_from=datetime.date(2025, 2, 1), actor=admin_user, billing_unit_amount=Decimal("100")
    )
    status, output, _ = derive(path)
    assert status == 0
    assert drug_units(output, "J9312") == 7  # the database's new billing unit: 100 mg
    assert drug_units(cli(path).stdout, "J9312") == 70  # the command line still reads the seed files


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"encounters": 3}', "encounters"),
        ("[1, 2]", ""),
    ],
)
def test_a_bad_document_exits_2_with_one_line(seeded, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    status, output, errors = derive(path)
    assert status == 2
    assert output == b""
    assert errors.count("\n") == 1 and message in errors
    assert "Traceback" not in errors
    assert errors == cli(path).stderr.decode()  # the same message as the command line


@pytest.mark.django_db
def test_a_missing_file_exits_2(seeded, tmp_path):
    status, _, errors = derive(tmp_path / "nowhere.json")
    assert status == 2 and errors.count("\n") == 1 and "cannot read" in errors


@pytest.mark.django_db
def test_an_empty_codebook_is_a_clear_error(db, write_json):
    with pytest.raises(CommandError, match="load_codebook"):
        call_command("derive_charges", str(write_json(RITUXIMAB)), stdout=io.StringIO())


@pytest.mark.slow
@needs_shared
def test_end_to_end_in_a_fresh_database(tmp_path, write_json):
    """The real manage.py in a subprocess on its own SQLite file: migrate, load_codebook, derive_charges."""
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def manage(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=600,
            check=False,
        )

    assert manage("migrate", "-v0").returncode == 0
    loaded = manage("load_codebook")
    assert loaded.returncode == 0, loaded.stderr.decode()
    path = write_json(scenario_document())
    derived = manage("derive_charges", str(path))
    assert derived.returncode == 0, derived.stderr.decode()
    assert derived.stdout == cli(path).stdout
    bad = manage("derive_charges", "-", stdin=b"{oops")
    assert bad.returncode == 2
    assert bad.stderr.decode().count("\n") == 1 and b"Traceback" not in bad.stderr
