"""Fixtures of the security tests: a world of objects at `center` and at `other_center`, and users
who hold a role only at the other center (or that role there and every other role here)."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from tests.factories import make_member

ROLES = (Role.NURSE, Role.CODER, Role.MANAGER, Role.ADMIN)

_SEED_BOOK = None


@pytest.fixture
def codebook(db):
    from codebook.selectors import clear_rules_book_cache
    from codebook.services import codebook_load_seed

    result = codebook_load_seed(force=False)
    clear_rules_book_cache()
    return result


@pytest.fixture(autouse=True)
def _seed_rules_book(monkeypatch):
    """Speed: the engine reads the shipped seed's book (built once), as in tests/charges."""
    global _SEED_BOOK
    from charges.engine.snapshot import load_seed_book

    if _SEED_BOOK is None:
        _SEED_BOOK = load_seed_book()
    monkeypatch.setattr("charges.services.derivations.rules_book", lambda: _SEED_BOOK)


@pytest.fixture(autouse=True)
def _files_dirs(settings, tmp_path):
    settings.REPORTS_FILES_DIR = tmp_path / "exports"
    settings.HL7_OUTBOX_DIR = ""


@pytest.fixture
def home(center, nurse, coder, manager, admin_user, codebook):
    """Every object type at `center` (see tests/security/world.py)."""
    from tests.security.world import build_world

    return build_world(
        center, {"nurse": nurse, "coder": coder, "manager": manager, "admin": admin_user}, tag="riverside"
    )


@pytest.fixture
def abroad(other_center, other_nurse, codebook):
    """The same objects at `other_center`, made by its own staff."""
    from tests.security.world import build_world

    users = {
        "nurse": other_nurse,
        "coder": make_member(Role.CODER, other_center, username="other_coder"),
        "manager": make_member(Role.MANAGER, other_center, username="other_manager"),
        "admin": make_member(Role.ADMIN, other_center, username="other_admin"),
    }
    return build_world(other_center, users, tag="lakeside")


@pytest.fixture
def foreign_users(abroad, center):
    """role -> (pure, mixed): `pure` holds the role only at the other center; `mixed` holds it there and
    the roles at `center` that the endpoints of that role do not allow (so the role check passes and only
    object scoping can refuse). Manager pages allow managers and admins: a mixed manager is no admin here."""
    from accounts.models import Membership
    from accounts.services import sync_user_staff

    result = {}
    for role in ROLES:
        mixed = make_member(role, abroad.center, username=f"mixed_{role}")
        for other in ROLES:
            if other != role and not (role == Role.MANAGER and other == Role.ADMIN):
                Membership.objects.create(user=mixed, center=center, role=other)
        sync_user_staff(mixed)
        result[role] = (abroad.users[role], mixed)
    return result


def pytest_terminal_summary(terminalreporter):
    from tests.security import COVERAGE

    if COVERAGE:
        terminalreporter.section("security walk coverage")
        for name, text in sorted(COVERAGE.items()):
            terminalreporter.write_line(f"{name}: {text}")
