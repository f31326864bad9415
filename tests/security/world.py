"""Objects of every type at one center, built through the apps' own services where they exist.

`build_world(center, users)` gives an open encounter with a running infusion and a push, a signed
encounter with a ready charge set and its lines, one with an open documentation query, one whose
approved set was exported in a batch (with its files), and an opaque patient reference. Each world
has its own patient names and MRNs, so a page or a log line can be searched for another center's.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.utils import timezone

DOS = datetime.date(2025, 3, 4)

#: (code, units, modifiers, unit price, revenue code, kind): a rituximab day (codebook 2025.1 prices)
LINES = (
    ("96413", 1, [], Decimal("330"), "0335", "administration"),
    ("96415", 3, [], Decimal("70"), "0335", "administration"),
    ("96375", 1, [], Decimal("55"), "0335", "administration"),
    ("J9312", 70, ["JZ"], Decimal("95"), "0636", "drug"),
)


@dataclass
class World:
    center: Any
    users: dict[str, Any]  # role -> user of this center
    enc_open: Any = None
    adm_running: Any = None
    adm_push: Any = None
    enc_ready: Any = None
    set_ready: Any = None
    line_ready: Any = None
    enc_queried: Any = None
    set_queried: Any = None
    query: Any = None
    enc_exported: Any = None
    set_exported: Any = None
    line_exported: Any = None
    batch: Any = None
    patient_token: str = ""
    patients: list[tuple[str, str]] = field(default_factory=list)  # (name, MRN)

    @property
    def phi(self) -> list[str]:
        """Strings that must never appear outside this center's own pages."""
        return [text for pair in self.patients for text in pair]


def _encounter(center, nurse, *, name, mrn, day, status="signed"):
    from charges.models import Encounter

    return Encounter.objects.create(
        center=center,
        patient_mrn=mrn,
        patient_name=name,
        patient_dob=datetime.date(1961, 5, 17),
        visit_number=f"V-{mrn}",
        service_date=day,
        setting=center.setting,
        payer="medicare",
        billing_entity=center.billing_entity,
        department_status=center.department_status or "on_campus",
        place_of_service=center.place_of_service,
        diagnoses=["C83.30", "Z51.11"],
        status=status,
        created_by=nurse,
        signed_by=nurse if status == "signed" else None,
        updated_by=nurse,
    )


def _administrations(encounter, nurse, tz, day):
    from tests.factories import AdministrationFactory

    def at(hhmm):
        h, m = hhmm.split(":")
        return datetime.datetime.combine(day, datetime.time(int(h), int(m)), tzinfo=tz)

    AdministrationFactory(
        encounter=encounter,
        start_at=at("10:00"),
        stop_at=at("14:10"),
        dose=Decimal("700"),
        dose_unit="mg",
        wasted=Decimal("0"),
        documented_by=nurse,
    )
    AdministrationFactory(
        encounter=encounter,
        drug="diphenhydramine",
        hcpcs="J1200",
        route="iv_push",
        start_at=at("09:45"),
        dose=Decimal("25"),
        dose_unit="mg",
        documented_by=nurse,
    )


def _charge_set(encounter, status="ready"):
    from charges.models import ChargeSet
    from tests.factories import ChargeLineFactory

    charge_set = ChargeSet.objects.create(encounter=encounter, status=status)
    for position, (code, units, mods, price, revenue, kind) in enumerate(LINES):
        ChargeLineFactory(
            charge_set=charge_set,
            position=position,
            code=code,
            units=units,
            modifiers=list(mods),
            unit_price=price,
            revenue_code=revenue if encounter.setting == "facility" else "",
            kind=kind,
        )
    return charge_set


def build_world(center, users: dict[str, Any], tag: str) -> World:
    """`users`: role -> a user holding that role at `center` (nurse, coder, manager at least)."""
    from charges.models import Administration
    from reports.services import day_close
    from review.services import patient_ref_for, query_create, review_approve

    nurse, coder, manager = users["nurse"], users["coder"], users["manager"]
    tz = ZoneInfo(center.time_zone)
    world = World(center=center, users=users)
    names = iter(
        [
            (f"Ottilie {tag}open", f"SEC{tag.upper()}OPEN01"),
            (f"Bartholomew {tag}ready", f"SEC{tag.upper()}READY02"),
            (f"Philippa {tag}query", f"SEC{tag.upper()}QUERY03"),
            (f"Leopold {tag}export", f"SEC{tag.upper()}EXPORT04"),
        ]
    )

    # an open encounter of today with a running infusion (the board's "Stop now") and a push
    started = timezone.now() - datetime.timedelta(hours=2)
    today = started.astimezone(tz).date()
    name, mrn = next(names)
    world.enc_open = _encounter(center, nurse, name=name, mrn=mrn, day=today, status="open")
    world.adm_running = Administration.objects.create(
        encounter=world.enc_open,
        drug="infliximab, excludes biosimilar",
        hcpcs="J1745",
        route="iv_infusion",
        site="A",
        start_at=started,
        dose=Decimal("400"),
        dose_unit="mg",
        documented_by=nurse,
    )
    world.adm_push = Administration.objects.create(
        encounter=world.enc_open,
        drug="ondansetron",
        hcpcs="J2405",
        route="iv_push",
        site="A",
        start_at=started - datetime.timedelta(minutes=20),
        dose=Decimal("8"),
        dose_unit="mg",
        documented_by=nurse,
    )
    world.patients.append((name, mrn))

    # a signed encounter with a ready set
    name, mrn = next(names)
    world.enc_ready = _encounter(center, nurse, name=name, mrn=mrn, day=DOS)
    _administrations(world.enc_ready, nurse, tz, DOS)
    world.set_ready = _charge_set(world.enc_ready)
    world.line_ready = world.set_ready.lines.order_by("position").first()
    world.patients.append((name, mrn))

    # a documentation query (the set goes on hold)
    name, mrn = next(names)
    world.enc_queried = _encounter(center, nurse, name=name, mrn=mrn, day=DOS)
    _administrations(world.enc_queried, nurse, tz, DOS)
    world.set_queried = _charge_set(world.enc_queried)
    world.query = query_create(charge_set=world.set_queried, actor=coder, question="Stop time of the rituximab?")
    world.patients.append((name, mrn))

    # an approved set, exported by the manager's day close (batch, items, files)
    name, mrn = next(names)
    world.enc_exported = _encounter(center, nurse, name=name, mrn=mrn, day=DOS)
    _administrations(world.enc_exported, nurse, tz, DOS)
    world.set_exported = _charge_set(world.enc_exported)
    review_approve(charge_set=world.set_exported, actor=coder)
    world.batch = day_close(center=center, date=DOS, actor=manager).batch
    assert world.batch is not None, "the day close exported nothing"
    world.set_exported.refresh_from_db()
    world.line_exported = world.set_exported.lines.order_by("position").first()
    world.set_ready.refresh_from_db()

    world.patient_token = patient_ref_for(center_id=center.pk, patient_mrn=world.enc_ready.patient_mrn).token
    return world


# --- which object fills which URL ----------------------------------------------------------------------


def object_urls(route: str, world: World) -> list[str]:
    """Concrete URLs of `route` (a walk route with converters) for every object of `world` it takes.

    Returns [] for routes without ids. Unknown id routes raise, so a new route cannot slip by untested.
    """
    if "<" not in route:
        return []
    w = world

    def fill(**values):
        text = route
        for key, value in values.items():
            for conv in ("int", "str", "slug"):
                text = text.replace(f"<{conv}:{key}>", str(value))
        assert "<" not in text, f"unfilled converter in {text}"
        return "/" + text

    if route.startswith("charting/administrations/"):
        return [fill(adm_pk=w.adm_running.pk), fill(adm_pk=w.adm_push.pk)]
    if route.startswith("charting/encounters/"):
        if "<int:adm_pk>" in route:
            return [fill(pk=w.enc_open.pk, adm_pk=w.adm_running.pk), fill(pk=w.enc_open.pk, adm_pk=w.adm_push.pk)]
        return [fill(pk=e.pk) for e in (w.enc_open, w.enc_ready, w.enc_queried)]
    if route.startswith("review/sets/"):
        if "<int:line_pk>" in route:
            return [
                fill(pk=w.set_ready.pk, line_pk=w.line_ready.pk),
                fill(pk=w.set_exported.pk, line_pk=w.line_exported.pk),
            ]
        return [fill(pk=s.pk) for s in (w.set_ready, w.set_queried, w.set_exported)]
    if route.startswith("review/queries/"):
        return [fill(pk=w.query.pk)]
    if route.startswith("reports/batches/"):
        if "<str:kind>" in route:
            return [fill(pk=w.batch.pk, kind=kind) for kind in ("csv", "xlsx", "hl7")]
        return [fill(pk=w.batch.pk)]
    if route.startswith("accounts/access-review/") and "<int:user_id>" in route:
        return [fill(user_id=w.users["nurse"].pk), fill(user_id=w.users["coder"].pk)]
    raise AssertionError(f"tests/security/world.py does not know which object fills {route!r}: add it")


# --- "nothing changed" ---------------------------------------------------------------------------------------

#: tables that legitimately change on any request (or record the attempt itself)
_VOLATILE = {"audit.auditevent", "sessions.session"}
_VOLATILE_APPS = {"axes", "otp_totp", "otp_static", "contenttypes"}


#: tables whose every value is compared (the others: their row counts, which catch every insert or delete,
#: and every update too where django-simple-history keeps a history table)
_FULL = (
    "charges.encounter",
    "charges.administration",
    "charges.chargeset",
    "charges.chargeline",
    "review.documentationquery",
    "review.exportbatch",
    "reports.dayclose",
    "accounts.membership",
    "accounts.center",
    "auth.user",
)


def _tables():
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        if label in _VOLATILE or model._meta.app_label in _VOLATILE_APPS or model._meta.proxy:
            continue
        yield label, model


def counts() -> dict[str, int]:
    """Row counts of every table a refused request must not touch, in one query."""
    from django.db import connection

    tables = list(_tables())
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for _, m in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return {label: int(n) for (label, _), n in zip(tables, row, strict=True)}


def snapshot() -> dict[str, object]:
    """Row counts of every table plus a digest of every value of the core tables."""
    digest: dict[str, object] = dict(counts())
    for label in _FULL:
        model = apps.get_model(label)
        rows = list(model._base_manager.order_by("pk").values_list())
        digest[label + " (values)"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digest


def changed(before: dict, after: dict) -> list[str]:
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
