"""Reads of the codebook: the tables as seed text, the database rules book, payer notes.

``codebook_tables()`` renders the database rows back into exactly the shape
``charges.engine.snapshot.read_tables`` gives for the seed files (same tables, columns and
canonical cell text), so ``build_book(codebook_tables(), version)`` is the database's rules book
and the engine never knows where its rules came from.

``rules_book()`` caches that book per codebook revision: every codebook change (signal on
save/delete, and the services' bulk paths) gives ``CodebookRevision`` a new random token in the
same transaction, and the cache is keyed by the token read from the database, so it is correct
across processes (gunicorn workers, Celery) on SQLite and PostgreSQL alike, and a change rolled
back never leaves its book behind under a token that a later change could reuse.

``revision_cached(key, build)`` applies the same rule to anything else derived from the codebook
(the charges app's drug catalog, for instance): one value per key, kept for the current token only.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from charges.engine import snapshot
from codebook.cells import to_cell
from codebook.models import CODEBOOK_MODELS, CodebookRevision, PayerNote

_cache_lock = threading.Lock()
_cache: dict[str, tuple[snapshot.RulesBook, str]] = {}  # "token:version" -> (book, snapshot id)
_derived: dict[Hashable, Any] = {}  # values of revision_cached(), all of one token
_DERIVED_MAX = 256  # keys per token (e.g. one drug catalog per service date); beyond, start again
_derived_token: list[str] = [""]


def codebook_tables() -> dict[str, list[dict[str, str]]]:
    """Every codebook table as ``{table: [{column: cell text}, ...]}``, rows in load order."""
    tables: dict[str, list[dict[str, str]]] = {}
    for model in CODEBOOK_MODELS:
        columns = model.COLUMNS
        lookups = ["payer__key" if column.kind == "payer" else column.field for column in columns]
        kinds = ["text" if column.kind == "payer" else column.kind for column in columns]
        names = [column.name for column in columns]
        tables[model.TABLE] = [
            {name: to_cell(value, kind) for name, kind, value in zip(names, kinds, values, strict=True)}
            for values in model.objects.order_by("pk").values_list(*lookups)
        ]
    return tables


def codebook_revision() -> tuple[str, str]:
    """(token, version) of the database codebook; the token changes with every change."""
    found = CodebookRevision.objects.filter(pk=1).values_list("token", "version").first()
    return found if found is not None else ("", "")


def codebook_version() -> str:
    """The version string the codebook was loaded from (the seed's ``VERSION``)."""
    _token, version = codebook_revision()
    return version or snapshot.read_version(snapshot.SEED_DIR)


def _snapshot_id_of(token: str, version: str) -> str:
    return f"{version or snapshot.read_version(snapshot.SEED_DIR)}@{token or 'empty'}"


def codebook_snapshot_id() -> str:
    """Names the exact codebook state a derivation used: ``<version>@<token>`` (security.md INT-04)."""
    token, version = codebook_revision()  # one read: the version and the token of the same state
    return _snapshot_id_of(token, version)


def rules_book() -> snapshot.RulesBook:
    """The database's ``RulesBook``, rebuilt only when the codebook changed since the last call."""
    token, version = codebook_revision()
    version = version or snapshot.read_version(snapshot.SEED_DIR)
    cache_key = f"{token}:{version}"
    with _cache_lock:
        found = _cache.get(cache_key)
    if found is not None and token:
        return found[0]
    book = snapshot.build_book(codebook_tables(), version)
    if token:
        with _cache_lock:
            _cache.clear()  # one book per process: the newest
            _cache[cache_key] = (book, _snapshot_id_of(token, version))
    return book


def rules_book_snapshot_id(book: object) -> str | None:
    """The snapshot id (``codebook_snapshot_id()``) of the revision `book` was built from, when `book`
    is the cached database book; None otherwise (then ask ``codebook_snapshot_id()``). No query."""
    with _cache_lock:
        for cached, snapshot_id in _cache.values():
            if cached is book:
                return snapshot_id
    return None


def revision_cached(key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()`` computed once per codebook revision (one query: the revision token).

    The value is kept until the token changes, exactly like the rules book, so it is never stale
    across processes; with no revision row (an empty codebook) nothing is cached. Callers must treat
    the value as read-only (share immutable values).
    """
    token, _version = codebook_revision()
    if token:
        with _cache_lock:
            if _derived_token[0] == token and key in _derived:
                return _derived[key]
    value = build()
    if token:
        with _cache_lock:
            if _derived_token[0] != token or len(_derived) >= _DERIVED_MAX:
                _derived.clear()  # values of one token only (the newest), and a bounded number of them
                _derived_token[0] = token
            _derived[key] = value
    return value


def clear_rules_book_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _derived.clear()
        _derived_token[0] = ""


def payer_notes_for(payer_key: str, codes: Iterable[str], on: datetime.date):
    """Notes of payer ``payer_key`` in force on ``on``: those on the whole payer and those on ``codes``.

    Ordered whole-payer notes first, then by code; each note's ``payer`` is the version it was
    written on (the note belongs to the payer key).
    """
    codes = sorted({code for code in codes if code})
    return (
        PayerNote.objects.in_force(on)
        .filter(payer__key=payer_key, code__in=["", *codes])
        .select_related("payer")
        .order_by("code", "pk")
    )
