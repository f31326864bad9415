"""Services of the charges app: every state change, each with its audit row in the same transaction.

Naming: `<entity>_<action>`, keyword-only arguments, `@transaction.atomic`, `full_clean()` before
save. Reads live in `charges.selectors`.
"""

from __future__ import annotations

from typing import Any


def audit(*, action: str, actor: Any = None, obj: Any = None, center_id: int | None = None, **kwargs: Any) -> None:
    """Writes one audit row in the caller's transaction (audit.services.audit_record)."""
    from audit.services import audit_record

    audit_record(action=action, actor=actor, obj=obj, center_id=center_id, **kwargs)


def user_label(user: Any) -> str:
    """How a user is named in messages ("changed by X at T")."""
    if user is None:
        return "someone else"
    full = (user.get_full_name() or "").strip() if hasattr(user, "get_full_name") else ""
    return full or getattr(user, "username", "") or "someone else"
