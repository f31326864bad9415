"""Fixtures of the codebook tests: the seed loaded into the test database, a seed directory to edit."""

from __future__ import annotations

import shutil

import pytest

from charges.engine import snapshot
from codebook.selectors import clear_rules_book_cache
from codebook.services import codebook_load_seed


@pytest.fixture(autouse=True)
def _fresh_rules_book_cache():
    clear_rules_book_cache()
    yield
    clear_rules_book_cache()


@pytest.fixture
def seeded(db):
    """The shipped seed (codebook/data) loaded into the database."""
    return codebook_load_seed(force=False)


@pytest.fixture
def seed_copy(tmp_path):
    """A writable copy of the shipped seed directory."""
    target = tmp_path / "seed"
    shutil.copytree(snapshot.SEED_DIR, target)
    return target
