"""Named domain errors of coder review. Views turn them into a message, a 403 or a 404.

The charge domain's own errors (`TransitionNotAllowed`, `StaleVersion`, `DutySeparation`) come
from `charges.errors` and are re-exported here so views catch one family.
"""

from __future__ import annotations

from charges.errors import ChargesError, DutySeparation, StaleVersion, TransitionNotAllowed

__all__ = [
    "ChargesError",
    "DutySeparation",
    "LineImmutable",
    "ProposalPending",
    "QueryOpen",
    "ReviewError",
    "RoleRefused",
    "StaleVersion",
    "TransitionNotAllowed",
]


class ReviewError(ChargesError):
    """Base class of the review app's own domain errors."""


class RoleRefused(ReviewError):
    """The actor does not hold the role this action needs at the set's center (a 403)."""


class QueryOpen(TransitionNotAllowed):
    """A documentation query is still open: the set stays on hold until it is closed."""


class ProposalPending(TransitionNotAllowed):
    """A newer derivation waits as a proposal: accept the new lines before approving."""


class LineImmutable(ReviewError):
    """The line is in an export batch: it can only be credited and rebilled, never edited."""
