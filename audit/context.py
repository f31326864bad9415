"""The audit context of the current request or task: request id, client address, user id, task id.

`infusioncenter.middleware.RequestContextMiddleware` binds it per request; Celery tasks bind their
task id. `audit.services.audit_record` copies it onto every row, so services never pass it around.

    bind(request_id="abc123", client_address="10.0.0.5", user_id=7)   # until clear()
    with bind(task_id=task.request.id):                               # restored on exit
        ...
    binding = bind(task_id=...); ...; binding.reset()                 # same, by hand
    current().request_id

A `ContextVar` keeps threads and asyncio tasks apart.
"""

from __future__ import annotations

import contextvars
import dataclasses
from typing import Any

__all__ = ["AuditContext", "bind", "clear", "current"]


@dataclasses.dataclass(frozen=True, slots=True)
class AuditContext:
    request_id: str = ""
    client_address: str = ""
    user_id: int | None = None
    task_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:  # current()["request_id"] works too
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)


_FIELDS = frozenset(field.name for field in dataclasses.fields(AuditContext))
_EMPTY = AuditContext()
_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("audit_context", default=_EMPTY)


class _Binding:
    """Returned by `bind()`; as a context manager it restores the previous context on exit."""

    __slots__ = ("_token",)

    def __init__(self, token: contextvars.Token) -> None:
        self._token = token

    def __enter__(self) -> AuditContext:
        return _context.get()

    def __exit__(self, *exc_info: object) -> None:
        self.reset()

    def reset(self) -> None:
        """Restores the context from before this `bind()` (for callers that cannot use `with`)."""
        _context.reset(self._token)


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def bind(**fields: Any) -> _Binding:
    """Sets the given fields (others keep their current value). Unknown names raise `TypeError`."""
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise TypeError(f"audit.context.bind() got unknown field(s) {unknown}; fields are {sorted(_FIELDS)}")
    if "request_id" in fields:
        fields["request_id"] = _text(fields["request_id"], 64)
    if "client_address" in fields:
        fields["client_address"] = _text(fields["client_address"], 64)
    if "task_id" in fields:
        fields["task_id"] = _text(fields["task_id"], 64)
    if "user_id" in fields and fields["user_id"] is not None:
        fields["user_id"] = int(fields["user_id"])
    return _Binding(_context.set(dataclasses.replace(_context.get(), **fields)))


def current() -> AuditContext:
    return _context.get()


def clear() -> None:
    _context.set(_EMPTY)
