"""Named domain errors of the charge domain.

Services raise them; views turn them into a message on the page, a 403 or a 404.
"""

from __future__ import annotations

import datetime


class ChargesError(Exception):
    """Base class of every domain error raised by the charges services."""


class TransitionNotAllowed(ChargesError):
    """A charge set status move that the workflow table does not allow for this actor."""

    def __init__(self, message: str, *, from_status: str = "", to_status: str = "") -> None:
        super().__init__(message)
        self.from_status = from_status
        self.to_status = to_status


class StaleVersion(ChargesError):
    """Optimistic locking: the object changed since the form was loaded."""

    def __init__(self, *, changed_by: str = "", changed_at: datetime.datetime | None = None, message: str = "") -> None:
        self.changed_by = changed_by or "someone else"
        self.changed_at = changed_at
        if not message:
            when = changed_at.strftime("%H:%M") if changed_at else "just now"
            message = (
                f"This was changed by {self.changed_by} at {when}. Reload to see the change; your input is kept below."
            )
        super().__init__(message)


class DutySeparation(ChargesError):
    """Separation of duties: e.g. whoever documented an encounter may not approve its charges."""


class SigningRefused(TransitionNotAllowed):
    """The encounter cannot be signed yet (a missing stop time, an engine error)."""
