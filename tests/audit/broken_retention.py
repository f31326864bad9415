"""A retention module whose own import fails (used by test_purge: the failure must not be hidden)."""

import no_such_dependency_for_audit_tests  # noqa: F401


def purge_voided_drafts(*, before, dry_run):
    return 0
