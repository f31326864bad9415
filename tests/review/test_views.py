"""Review pages: access (403/404, nothing changed), messages keeping input, the queue's constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from charges.models import ChargeLine, ChargeSet
from charges.workflow import Status
from review import services
from review.models import DocumentationQuery, PatientRef
from tests.review.conftest import audit_actions, build_encounter, build_set

pytestmark = pytest.mark.django_db


def status_of(charge_set: ChargeSet) -> str:
    return ChargeSet.objects.get(pk=charge_set.pk).status


# --- access ------------------------------------------------------------------------------------------


def test_queue_and_review_page_for_the_coder(ready_set, coder, client_for):
    client = client_for(coder)
    response = client.get(reverse("review:queue"))
    assert response.status_code == 200
    assert "Ada Testpatient" in response.content.decode()
    page = client.get(reverse("review:set_detail", args=[ready_set.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in body and "review-timeline-table" in body
    assert "engine: 96415" in body  # the explanation
    for label in ("Approve", "Hold", "Correct", "Query nurse"):
        assert f">{label}</button>" in body
    assert "review.view_charge_set" in audit_actions(object_id=str(ready_set.pk))
    assert "review.view_queue" in audit_actions()


def test_nurse_gets_403_and_nothing_changes(ready_set, nurse, client_for):
    client = client_for(nurse)
    assert client.get(reverse("review:queue")).status_code == 403
    assert client.get(reverse("review:set_detail", args=[ready_set.pk])).status_code == 403
    assert client.post(reverse("review:approve", args=[ready_set.pk])).status_code == 403
    assert status_of(ready_set) == Status.READY


def test_other_center_coder_gets_404_and_nothing_changes(ready_set, other_coder, client_for):
    client = client_for(other_coder)
    assert client.get(reverse("review:set_detail", args=[ready_set.pk])).status_code == 404
    assert client.post(reverse("review:approve", args=[ready_set.pk]), {"version": 1}).status_code == 404
    line = ChargeLine.objects.filter(charge_set=ready_set).first()
    response = client.post(
        reverse("review:line_correct", args=[ready_set.pk, line.pk]), {"units": 9, "reason": "x", "version": 1}
    )
    assert response.status_code == 404
    assert status_of(ready_set) == Status.READY
    line.refresh_from_db()
    assert line.units != 9
    assert "Ada Testpatient" not in client.get(reverse("review:queue")).content.decode()


def test_documenter_who_codes_gets_403_with_message(ready_set, nurse, center, client_for):
    from accounts.models import Membership

    Membership.objects.create(user=nurse, center=center, role="coder")
    response = client_for(nurse).post(reverse("review:approve", args=[ready_set.pk]), {"version": 1})
    assert response.status_code == 403
    assert "another coder must approve" in response.content.decode()
    assert status_of(ready_set) == Status.READY


# --- actions ------------------------------------------------------------------------------------------


def test_approve_by_post(ready_set, coder, client_for):
    response = client_for(coder).post(reverse("review:approve", args=[ready_set.pk]), {"version": 1})
    assert response.status_code == 302
    assert status_of(ready_set) == Status.APPROVED


def test_stale_save_says_who_and_keeps_the_input(ready_set, coder, coder2, client_for):
    services.review_hold(charge_set=ready_set, actor=coder2, reason="first")
    services.review_release(charge_set=ready_set, actor=coder2, reason="back")
    line = ChargeLine.objects.get(charge_set=ready_set, code="96415")
    response = client_for(coder).post(
        reverse("review:line_correct", args=[ready_set.pk, line.pk]),
        {"units": "2", "modifiers": "", "reason": "my typed reason", "version": "1"},
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "changed by Carla Coder at" in body and "Reload" in body
    assert 'value="my typed reason"' in body
    line.refresh_from_db()
    assert line.units == 3


def test_correction_without_reason_is_a_message(ready_set, coder, client_for):
    line = ChargeLine.objects.get(charge_set=ready_set, code="J9312")
    response = client_for(coder).post(
        reverse("review:line_correct", args=[ready_set.pk, line.pk]),
        {"units": "70", "modifiers": "JW", "reason": "", "version": str(ready_set.version)},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Give a reason for this correction." in body
    assert 'value="JW"' in body
    line.refresh_from_db()
    assert line.modifiers == ["JZ"]


def test_bad_units_are_a_message_not_a_traceback(ready_set, coder, client_for):
    line = ChargeLine.objects.get(charge_set=ready_set, code="96415")
    response = client_for(coder).post(
        reverse("review:line_correct", args=[ready_set.pk, line.pk]),
        {"units": "three", "reason": "r", "version": str(ready_set.version)},
    )
    assert response.status_code == 400
    assert "Units must be a whole number" in response.content.decode()
    assert 'value="three"' in response.content.decode()


def test_query_round_trip_through_the_pages(ready_set, coder, nurse, client_for):
    coder_client = client_for(coder)
    response = coder_client.post(
        reverse("review:query_create", args=[ready_set.pk]),
        {"question": "Indication for the hydration?", "administration": "", "version": "1"},
    )
    assert response.status_code == 302
    assert status_of(ready_set) == Status.ON_HOLD
    query = DocumentationQuery.objects.get()
    nurse_client = client_for(nurse)
    page = nurse_client.get(reverse("review:nurse_queries"))
    assert "Indication for the hydration?" in page.content.decode()
    empty = nurse_client.post(reverse("review:query_answer", args=[query.pk]), {"answer": " "})
    assert empty.status_code == 400 and "Write your answer." in empty.content.decode()
    answered = nurse_client.post(
        reverse("review:query_answer", args=[query.pk]), {"answer": "Dehydration", "next": "/review/queries/"}
    )
    assert answered.status_code == 302
    query.refresh_from_db()
    assert query.status == "answered"
    assert coder_client.post(reverse("review:approve", args=[ready_set.pk]), {}).status_code == 409
    closed = coder_client.post(reverse("review:query_close", args=[query.pk]), {"note": "ok"})
    assert closed.status_code == 302
    assert status_of(ready_set) == Status.READY


def test_nurse_cannot_answer_another_centers_query(ready_set, coder, other_nurse, client_for):
    query = services.query_create(charge_set=ready_set, actor=coder, question="q")
    response = client_for(other_nurse).post(reverse("review:query_answer", args=[query.pk]), {"answer": "a"})
    assert response.status_code == 404
    assert not query.answers.exists()


# --- queue --------------------------------------------------------------------------------------------


def test_status_counts_cover_the_whole_selection(codebook, center, nurse, coder, client_for):
    for i in range(3):
        build_set(build_encounter(center, nurse, mrn=f"R{i}"))
    build_set(build_encounter(center, nurse, mrn="H1"), status=Status.ON_HOLD)
    response = client_for(coder).get(reverse("review:queue"), {"status": "on_hold", "per_page": 10})
    body = response.content.decode()
    assert 'data-status-count="ready">3<' in body
    assert 'data-status-count="on_hold">1<' in body
    assert 'data-status-count="all">4<' in body


def test_queue_query_count_is_the_same_for_pages_of_10_and_50(codebook, center, nurse, coder, client_for):
    from charges.models import Derivation

    for i in range(55):
        encounter = build_encounter(center, nurse, mrn=f"P{i}", name=f"Patient {i:02d}")
        charge_set = build_set(encounter, status=Status.READY if i % 3 else Status.ON_HOLD)
        derivation = Derivation.objects.create(
            encounter=encounter,
            status="done",
            documentation_version=1,
            warnings=[{"code": "HYDRATION_UNDER_31", "administration": "A1", "message": "m"}],
        )
        ChargeSet.objects.filter(pk=charge_set.pk).update(derivation=derivation)
        if i % 5 == 0:
            services.query_create(charge_set=ChargeSet.objects.get(pk=charge_set.pk), actor=coder, question="q")
    client = client_for(coder)
    client.get(reverse("review:queue"))  # warm caches (sessions, content types)

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("review:queue"), {"per_page": per_page})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    ten, fifty = count(10), count(50)
    assert ten == fifty, (ten, fifty)
    body = client.get(reverse("review:queue"), {"per_page": 50}).content.decode()
    assert body.count("HYDRATION_UNDER_31</span>") == 50
    assert "Page 1 of 2" in body


@pytest.mark.parametrize(
    "sort", ["date", "-patient", "center", "payer", "-status", "amount", "-amount", "queries", "-queries"]
)
def test_every_page_of_every_sort_follows_the_sorted_selection(codebook, center, nurse, coder, client_for, sort):
    """The page is cut from the ordered ids, then annotated: same rows, same order as the whole sorted queue."""
    import datetime
    import re
    from decimal import Decimal

    from django.http import QueryDict
    from django.utils import timezone

    from review import selectors

    for i in range(23):
        day = datetime.date(2025, 3, 3) + datetime.timedelta(days=i % 4)
        encounter = build_encounter(
            center, nurse, day=day, mrn=f"S{i}", name=f"Sorted {i % 7:02d}", payer=("medicare", "commercial")[i % 2]
        )
        lines = [("96413", 1, [], Decimal(100 + (i % 5) * 10), "administration")] * (1 + i % 3)
        charge_set = build_set(encounter, status=(Status.READY, Status.ON_HOLD, Status.DRAFT)[i % 3], lines=lines)
        for n in range(i % 4):  # 0..3 queries, the third one closed (not counted)
            closed = n == 2
            DocumentationQuery.objects.create(
                charge_set=charge_set,
                encounter=encounter,
                question=f"q{n}",
                asked_by=coder,
                status="closed" if closed else "open",
                closed_at=timezone.now() if closed else None,
            )
    expected = [cs.pk for cs in selectors.queue(coder, selectors.parse_filters(QueryDict(f"sort={sort}")))]
    assert len(expected) == 23
    client = client_for(coder)
    seen = []
    for page in (1, 2, 3):
        body = client.get(reverse("review:queue"), {"sort": sort, "per_page": 10, "page": page}).content.decode()
        table = body.split("Documentation needed")[0]
        seen += [int(pk) for pk in re.findall(r'href="/review/sets/(\d+)/"', table)]
        assert "of 23</caption>" in table
    assert seen == expected


def test_warning_filter(codebook, center, nurse, coder, client_for):
    from charges.models import Derivation

    flagged = build_set(build_encounter(center, nurse, mrn="W1", name="Flagged Person"))
    build_set(build_encounter(center, nurse, mrn="W2", name="Clean Person"))
    derivation = Derivation.objects.create(
        encounter=flagged.encounter,
        status="done",
        documentation_version=1,
        warnings=[{"code": "MISSING_STOP_TIME", "administration": "A1", "message": "m"}],
    )
    ChargeSet.objects.filter(pk=flagged.pk).update(derivation=derivation)
    body = client_for(coder).get(reverse("review:queue"), {"warning": "MISSING_STOP_TIME"}).content.decode()
    assert "Flagged Person" in body and "Clean Person" not in body


def test_bad_filter_values_are_messages(ready_set, coder, client_for):
    response = client_for(coder).get(reverse("review:queue"), {"from": "yesterday", "status": "nope"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "is not a date" in body and "Unknown status." in body
    assert 'value="yesterday"' not in body or "is-invalid" in body


def test_patient_filter_uses_an_opaque_id(codebook, center, nurse, coder, client_for):
    build_set(build_encounter(center, nurse, mrn="MRN-777", name="Zelda Example"))
    build_set(build_encounter(center, nurse, mrn="MRN-888", name="Other Person"))
    client = client_for(coder)
    response = client.post(reverse("review:patient_search"), {"q": "zeld"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Zelda Example" in body and "Other Person" not in body
    ref = PatientRef.objects.get(patient_mrn="MRN-777")
    assert f"patient={ref.token}" in body
    assert "MRN-777" not in body and "Zelda" not in body.split("href=")[1].split(">")[0]
    queue = client.get(reverse("review:queue"), {"patient": ref.token}).content.decode()
    assert "Zelda Example" in queue and "Other Person" not in queue
    unknown = client.get(reverse("review:queue"), {"patient": "not-a-token"}).content.decode()
    assert "not known here" in unknown and "Zelda Example" not in unknown.split("Documentation needed")[0]


def test_documentation_needed_lists_missing_stop_and_queries_with_the_nurse(codebook, center, nurse, coder, client_for):
    build_set(build_encounter(center, nurse, mrn="S1", name="Stop Missing", stop=None), status=Status.DRAFT)
    queried = build_set(build_encounter(center, nurse, mrn="Q1", name="Query Person"))
    services.query_create(charge_set=queried, actor=coder, question="Which arm?")
    body = client_for(coder).get(reverse("review:queue")).content.decode()
    needed = body.split("Documentation needed")[1]
    assert "Stop time missing for rituximab (started 10:00)" in needed
    assert "Open query: Which arm?" in needed
    nurse_name = nurse.get_full_name() or nurse.username
    assert needed.count(f"<td>{nurse_name}</td>") == 2


def test_documentation_needed_follows_the_filters(codebook, center, nurse, coder, other_center, client_for):
    """Open queries listed: the filtered sets' only (status filter aside), never a void set's or a closed one."""
    from django.utils import timezone

    def queried(mrn, name, *, payer="medicare", status=Status.ON_HOLD, query_status="open", where=center):
        charge_set = build_set(build_encounter(where, nurse, mrn=mrn, name=name, payer=payer), status=status)
        DocumentationQuery.objects.create(
            charge_set=charge_set,
            encounter=charge_set.encounter,
            question=f"About {name}?",
            asked_by=coder,
            status=query_status,
            closed_at=timezone.now() if query_status == "closed" else None,
        )

    queried("N1", "Medicare Held")
    queried("N2", "Commercial Held", payer="commercial")
    queried("N3", "Answered Ready", status=Status.READY, query_status="answered")
    queried("N4", "Void Person", status=Status.VOID)
    queried("N5", "Closed Person", query_status="closed")
    queried("N6", "Elsewhere Person", where=other_center)
    client = client_for(coder)

    def needed(**params):
        return client.get(reverse("review:queue"), params).content.decode().split("Documentation needed")[1]

    everything = needed()
    for name in ("Medicare Held", "Commercial Held"):
        assert f"Open query: About {name}?" in everything
    assert "Answered, to close: About Answered Ready?" in everything
    for name in ("Void Person", "Closed Person", "Elsewhere Person"):
        assert name not in everything
    medicare = needed(payer="medicare", status="ready")  # the status filter does not apply to this list
    assert "Medicare Held" in medicare and "Answered Ready" in medicare and "Commercial Held" not in medicare
    assert "About" not in needed(patient="not-a-token")


@pytest.mark.parametrize(
    "target", ["not-a-url", '"><img src=x onerror=alert(1)>', "//evil.example/", "https://evil.example/"]
)
def test_query_answer_with_a_bad_next_goes_to_the_query_page(ready_set, coder, nurse, client_for, target):
    query = services.query_create(charge_set=ready_set, actor=coder, question="q")
    response = client_for(nurse).post(reverse("review:query_answer", args=[query.pk]), {"answer": "a", "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("review:nurse_queries")
