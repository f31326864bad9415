"""`full_clean()` without a database round trip per check constraint.

Django validates each `CheckConstraint` with its own query (`SELECT 1 WHERE COALESCE(<condition>,
true)`), inside a savepoint when a transaction is open: three round trips per constraint, twelve
for an administration, on every save. The conditions of our models are simple comparisons
(`stop_at > start_at`, `dose > 0`, `... IS NULL`), so `full_clean_local()` evaluates those in Python
with SQL's three-valued logic (a comparison with NULL is unknown, and unknown passes, as with the
COALESCE) and asks the database, exactly like Django, for any condition it does not understand.
The errors, their codes and messages, and the fields skipped after a field error are Django's.
The database still enforces every constraint on INSERT/UPDATE.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import router
from django.db.models import CheckConstraint, F, Q

_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "exact": operator.eq}


class _Unsupported(Exception):
    """The condition needs the database."""


def _value(instance: Any, name: str, exclude: set[str]) -> Any:
    if name in exclude:
        raise _Unsupported  # Django skips a constraint on an excluded field (FieldError); so does the fallback
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        raise _Unsupported from None
    if not getattr(field, "concrete", False) or getattr(field, "generated", False) or field.is_relation:
        raise _Unsupported
    value = getattr(instance, field.attname)
    if hasattr(value, "resolve_expression"):
        raise _Unsupported
    return value


def _evaluate(node: Any, instance: Any, exclude: set[str]) -> bool | None:
    """True, False, or None (SQL unknown)."""
    if isinstance(node, Q):
        results = [_evaluate(child, instance, exclude) for child in node.children]
        if node.connector == Q.AND:
            result = False if False in results else (None if None in results else True)
        elif node.connector == Q.OR:
            result = True if True in results else (None if None in results else False)
        else:
            raise _Unsupported
        if node.negated and result is not None:
            result = not result
        return result
    if not (isinstance(node, tuple) and len(node) == 2):
        raise _Unsupported
    lookup, expected = node
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    left = _value(instance, name, exclude)
    if kind == "isnull":
        if not isinstance(expected, bool):
            raise _Unsupported
        return (left is None) is expected
    if kind not in _COMPARE:
        raise _Unsupported
    if isinstance(expected, F):
        right = _value(instance, expected.name, exclude)
    elif hasattr(expected, "resolve_expression") or expected is None:
        raise _Unsupported
    else:
        right = expected
    if left is None or right is None:
        return None
    try:
        return bool(_COMPARE[kind](left, right))
    except TypeError:
        raise _Unsupported from None


def validate_constraints_local(instance: Any, exclude: Iterable[str] = ()) -> None:
    """`instance.validate_constraints(exclude)`, evaluating simple check conditions in Python."""
    exclude = set(exclude)
    using = router.db_for_write(type(instance), instance=instance)
    errors: dict[str, list[ValidationError]] = {}
    for model_class, constraints in instance.get_constraints():
        for constraint in constraints:
            try:
                if isinstance(constraint, CheckConstraint):
                    try:
                        ok = _evaluate(Q(constraint.condition), instance, exclude)
                    except _Unsupported:
                        constraint.validate(model_class, instance, exclude=exclude, using=using)
                    else:
                        if ok is False:
                            raise ValidationError(
                                constraint.get_violation_error_message(), code=constraint.violation_error_code
                            )
                else:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as e:
                if getattr(e, "code", None) == "unique" and len(getattr(constraint, "fields", ())) == 1:
                    errors.setdefault(constraint.fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def full_clean_local(instance: Any, exclude: Iterable[str] = ()) -> None:
    """`instance.full_clean(exclude=...)` with `validate_constraints_local()` for the constraints."""
    exclude = set(exclude)
    errors: dict[str, Any] = {}
    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    # as Django: constraints are checked only for the fields that passed validation
    skip = exclude | {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        validate_constraints_local(instance, exclude=skip)
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
