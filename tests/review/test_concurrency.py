"""Two coders on the same set at the same time (PostgreSQL row locks): the second save is refused.

Both coders loaded version 1. Coder 2 corrects a line and, while her transaction still holds the
row lock, coder 1 approves: coder 1 waits for the lock, then sees version 2 and gets StaleVersion
("changed by Carla Coder at ..."), and nothing of hers is written.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from charges.errors import StaleVersion
from charges.models import ChargeLine, ChargeSet
from charges.workflow import Status
from review import services
from tests.review.conftest import build_encounter, build_set

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_second_coder_gets_stale_version_while_the_first_holds_the_lock(center, nurse, coder, coder2):
    from codebook.services import codebook_load_seed

    codebook_load_seed(force=False)
    charge_set = build_set(build_encounter(center, nurse))
    line_pk = ChargeLine.objects.get(charge_set=charge_set, code="96415").pk
    locked = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def first():
        try:
            with transaction.atomic():
                services.line_correct(
                    line=ChargeLine.objects.get(pk=line_pk), actor=coder2, units=2, reason="pause", expected_version=1
                )
                locked.set()
                release.wait(10)
            outcome["first"] = "saved"
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            outcome["first"] = exc
            locked.set()
        finally:
            connections.close_all()

    def second():
        try:
            services.review_approve(charge_set=ChargeSet.objects.get(pk=charge_set.pk), actor=coder, expected_version=1)
            outcome["second"] = "saved"
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            outcome["second"] = exc
        finally:
            connections.close_all()

    t1 = threading.Thread(target=first)
    t1.start()
    assert locked.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(0.5)
    assert t2.is_alive(), "the second coder must wait for the first one's row lock"
    release.set()
    t1.join(10)
    t2.join(10)
    assert outcome["first"] == "saved"
    assert isinstance(outcome["second"], StaleVersion), outcome["second"]
    assert "Carla Coder" in str(outcome["second"])
    fresh = ChargeSet.objects.get(pk=charge_set.pk)
    assert fresh.status == Status.READY and fresh.version == 2
    assert ChargeLine.objects.get(pk=line_pk).units == 2
