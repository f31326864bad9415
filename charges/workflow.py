"""The charge set status table, declared as data (issue 4 item 2).

One service, `charges.services.charge_sets.charge_set_transition`, enforces it: a move not in
this table, or by an actor without one of its roles, raises `TransitionNotAllowed`; a move whose
`reason_required` is set refuses an empty reason; `not_documenter` moves raise `DutySeparation`
when the actor documented the encounter; `source="export"` moves are made by the export service
only (never from a view).

    draft     -> ready     nurse            signs the encounter (refused while an administration has
                                            no stop time or the engine reports an error)
    ready     -> on_hold   coder, reason
    on_hold   -> ready     coder, reason
    ready     -> approved  coder who did not document the encounter
    approved  -> ready     coder, reason    (before export only: exported is a different status)
    approved  -> exported  export service only
    any but exported/void -> void   nurse or coder, reason
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

NURSE = "nurse"
CODER = "coder"
MANAGER = "manager"
ADMIN = "admin"

SOURCE_USER = "user"
SOURCE_EXPORT = "export"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    READY = "ready", "Ready for coding"
    ON_HOLD = "on_hold", "On hold"
    APPROVED = "approved", "Approved"
    EXPORTED = "exported", "Exported"
    VOID = "void", "Void"


#: statuses whose lines the newest derivation replaces (when no coder has corrected the set)
LIVE_STATUSES = frozenset({Status.DRAFT, Status.READY})
#: statuses after which lines are immutable
FINAL_STATUSES = frozenset({Status.EXPORTED, Status.VOID})


@dataclass(frozen=True, slots=True)
class Move:
    from_status: str
    to_status: str
    roles: frozenset[str]
    reason_required: bool = False
    not_documenter: bool = False
    requires_signable: bool = False
    source: str = SOURCE_USER
    label: str = ""


TRANSITIONS: tuple[Move, ...] = (
    Move(Status.DRAFT, Status.READY, frozenset({NURSE}), requires_signable=True, label="Sign"),
    Move(Status.READY, Status.ON_HOLD, frozenset({CODER}), reason_required=True, label="Hold"),
    Move(Status.ON_HOLD, Status.READY, frozenset({CODER}), reason_required=True, label="Release"),
    Move(Status.READY, Status.APPROVED, frozenset({CODER}), not_documenter=True, label="Approve"),
    Move(Status.APPROVED, Status.READY, frozenset({CODER}), reason_required=True, label="Reopen"),
    Move(
        Status.APPROVED,
        Status.EXPORTED,
        frozenset({MANAGER, ADMIN}),
        source=SOURCE_EXPORT,
        label="Export",
    ),
    *(
        Move(s, Status.VOID, frozenset({NURSE, CODER}), reason_required=True, label="Void")
        for s in (Status.DRAFT, Status.READY, Status.ON_HOLD, Status.APPROVED)
    ),
)

_BY_PAIR: dict[tuple[str, str], Move] = {(m.from_status, m.to_status): m for m in TRANSITIONS}


def move_for(from_status: str, to_status: str) -> Move | None:
    """The table row for this move, or None when no one may make it."""
    return _BY_PAIR.get((str(from_status), str(to_status)))


def allowed_targets(from_status: str, roles: set[str] | frozenset[str], source: str = SOURCE_USER) -> list[str]:
    """Statuses reachable from `from_status` by someone holding `roles` (for buttons)."""
    return [
        m.to_status
        for m in TRANSITIONS
        if m.from_status == from_status and m.source == source and (m.roles & set(roles))
    ]


def charge_set_transition(**kwargs):  # noqa: ANN003, ANN201 - see charges.services.charge_sets
    """The one service enforcing this table: `charges.services.charge_sets.charge_set_transition`."""
    from charges.services.charge_sets import charge_set_transition as service

    return service(**kwargs)
