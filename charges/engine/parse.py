"""Input validation: one engine-io.md encounter (parsed JSON) -> ``Encounter`` dataclass, or errors.

Conventions of coding-rules.md: a time with an offset is that instant; one without is read in the encounter's
time zone; a local time in a skipped hour is NONEXISTENT_LOCAL_TIME, in a repeated hour AMBIGUOUS_LOCAL_TIME.
Seconds are ignored (whole minutes). Every problem becomes an error code from the closed list, never an
exception.
"""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal, InvalidOperation

from .constants import BILLING_ENTITIES, CATEGORIES, DEPARTMENT_STATUSES, ROUTES, SETTINGS
from .types import Administration, Encounter, Issue

_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_UTC = datetime.UTC
_ZONES: dict[str, object] = {"UTC": _UTC}
_OFFSETS: dict[tuple, int | bool] = {}
_WHOLE_DAY: dict[tuple, int | bool] = {}
_DAYS: dict[str, tuple[int, int]] = {}
_ROUTES = frozenset(ROUTES)
_CATEGORIES = frozenset(CATEGORIES)
_PURPOSES = frozenset({"hydration", "kvo", "carrier", "electrolyte_replacement"})
_MAX_ERRORS = 20


class _Bad(Exception):
    def __init__(self, code: str, administration: str | None, message: str) -> None:
        super().__init__(message)
        self.code, self.administration, self.message = code, administration, message


def zone(name: str):
    """The tzinfo of an IANA name (cached); raises _Bad(BAD_TIMEZONE)."""
    try:
        return _ZONES[name]
    except KeyError:
        pass
    try:
        tz = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise _Bad("BAD_TIMEZONE", None, f"timezone {name!r} is not an IANA time zone name") from None
    _ZONES[name] = tz
    return tz


def _local_offset(tz, tzname: str, ordinal: int, hour: int, minute: int, admin_id, field: str, text: str) -> int:
    """UTC offset in minutes of a naive local time; raises for skipped or repeated local times."""
    day_key = (tzname, ordinal)
    whole_day = _WHOLE_DAY.get(day_key)
    if whole_day is None:
        day = datetime.date.fromordinal(ordinal)
        first = _classify(tz, day, 0, 0)
        whole_day = first if first == _classify(tz, day, 23, 59) and isinstance(first, int) else False
        _WHOLE_DAY[day_key] = whole_day
    if whole_day is not False:
        return whole_day
    key = (tzname, ordinal, hour)
    cached = _OFFSETS.get(key)
    if cached is None:
        cached = False
        day = datetime.date.fromordinal(ordinal)
        first = _classify(tz, day, hour, 0)
        last = _classify(tz, day, hour, 59)
        if first == last and isinstance(first, int):
            cached = first
        _OFFSETS[key] = cached
    if cached is not False:
        return cached
    kind = _classify(tz, datetime.date.fromordinal(ordinal), hour, minute)
    if kind == "gap":
        raise _Bad(
            "NONEXISTENT_LOCAL_TIME",
            admin_id,
            f"{field} {text} does not exist in {tzname} (clocks skip that hour); give the time with its offset",
        )
    if kind == "fold":
        raise _Bad(
            "AMBIGUOUS_LOCAL_TIME",
            admin_id,
            f"{field} {text} happens twice in {tzname} (clocks repeat that hour); give the time with its offset",
        )
    return kind


def _classify(tz, day: datetime.date, hour: int, minute: int):
    naive = datetime.datetime(day.year, day.month, day.day, hour, minute)
    before = naive.replace(tzinfo=tz).utcoffset()
    after = naive.replace(tzinfo=tz, fold=1).utcoffset()
    if before == after:
        return int(before.total_seconds()) // 60
    return "gap" if before < after else "fold"


def parse_time(text, tz, tzname: str, admin_id, field: str) -> int:
    """Epoch minute (UTC) of an ISO 8601 date-time text; seconds dropped."""
    if not isinstance(text, str):
        raise _Bad("BAD_TIME", admin_id, f"{field} must be an ISO 8601 date-time text, got {type(text).__name__}")
    if len(text) == 16 and text[10] == "T" and text[13] == ":":
        day = _DAYS.get(text[:10])
        if day is None:
            try:
                ordinal = datetime.date.fromisoformat(text[:10]).toordinal()
            except ValueError:
                raise _Bad("BAD_TIME", admin_id, f"{field} {text!r} is not a valid ISO 8601 date-time") from None
            day = _DAYS[text[:10]] = (ordinal, (ordinal - _EPOCH_ORDINAL) * 1440)
        hh, mm = text[11:13], text[14:16]
        if not (hh.isdigit() and mm.isdigit()) or hh > "23" or mm > "59":
            raise _Bad("BAD_TIME", admin_id, f"{field} {text!r} is not a valid ISO 8601 date-time")
        hour, minute = int(hh), int(mm)
        if tz is _UTC:
            return day[1] + hour * 60 + minute
        offset = _WHOLE_DAY.get((tzname, day[0]))
        if offset is None or offset is False:
            offset = _local_offset(tz, tzname, day[0], hour, minute, admin_id, field, text)
        return day[1] + hour * 60 + minute - offset
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("BAD_TIME", admin_id, f"{field} {text!r} is not a valid ISO 8601 date-time") from None
    if len(text) < 16:
        raise _Bad("BAD_TIME", admin_id, f"{field} {text!r} needs a date and a time (YYYY-MM-DDTHH:MM)")
    ordinal = moment.toordinal()
    wall = (ordinal - _EPOCH_ORDINAL) * 1440 + moment.hour * 60 + moment.minute
    if moment.tzinfo is not None:
        offset = moment.utcoffset()
        offset_seconds = int(offset.total_seconds())
        return (wall * 60 - offset_seconds) // 60
    if tz is _UTC:
        return wall
    return wall - _local_offset(tz, tzname, ordinal, moment.hour, moment.minute, admin_id, field, text)


_DATES_BY_ZONE: dict[str | None, dict[int, str]] = {}
_ISO_BY_ORDINAL: dict[int, str] = {}
_DAY_OFFSETS: dict[str, dict[int, int | bool]] = {}


def _iso(day_number: int) -> str:
    found = _ISO_BY_ORDINAL.get(day_number)
    if found is None:
        found = _ISO_BY_ORDINAL[day_number] = datetime.date.fromordinal(_EPOCH_ORDINAL + day_number).isoformat()
    return found


def local_date(tz, tzname: str, minute: int) -> str:
    """ISO date, in the encounter's zone, of the epoch minute."""
    if tz is _UTC:
        return _iso(minute // 1440)
    utc_day = minute // 1440
    offsets = _DAY_OFFSETS.setdefault(tzname, {})
    offset = offsets.get(utc_day)
    if offset is None:
        first = datetime.datetime.fromtimestamp(utc_day * 86400, tz).utcoffset()
        last = datetime.datetime.fromtimestamp(utc_day * 86400 + 86340, tz).utcoffset()
        offset = int(first.total_seconds()) // 60 if first == last else False
        offsets[utc_day] = offset
    if offset is not False:
        return _iso((minute + offset) // 1440)
    cache = _DATES_BY_ZONE.setdefault(tzname, {})
    key = minute // 15
    found = cache.get(key)
    if found is None:
        found = cache[key] = datetime.datetime.fromtimestamp(minute * 60, tz).date().isoformat()
    return found


_DATERS: dict[str, tuple] = {}


def dater(tz, tzname: str):
    """A fast local_date for one zone (the common case inlined: a UTC day with one offset, a cached ISO text).

    Built once per zone and reused (an encounter asks for it on every derivation)."""
    found = _DATERS.get(tzname)
    if found is not None and found[0] is tz:
        return found[1]
    date = _make_dater(tz, tzname)
    _DATERS[tzname] = (tz, date)
    return date


def _make_dater(tz, tzname: str):
    """local_date for one zone. The last local day served is remembered as (first minute, end minute, ISO date):
    the minutes of that day within one UTC day of one offset, so the dates of one encounter mostly cost one
    comparison. The remembered day is one tuple, replaced whole (safe when threads share the zone)."""
    iso = _ISO_BY_ORDINAL
    last = (0, 0, "")
    if tz is _UTC:

        def date_utc(minute: int) -> str:
            nonlocal last
            low, high, day = last
            if low <= minute < high:
                return day
            number = minute // 1440
            day = iso.get(number)
            if day is None:
                day = _iso(number)
            last = (number * 1440, number * 1440 + 1440, day)
            return day

        return date_utc
    offsets = _DAY_OFFSETS.setdefault(tzname, {})

    def date_local(minute: int) -> str:
        nonlocal last
        low, high, day = last
        if low <= minute < high:
            return day
        utc_day = minute // 1440
        offset = offsets.get(utc_day)
        if offset is None or offset is False:
            return local_date(tz, tzname, minute)
        number = (minute + offset) // 1440
        day = iso.get(number)
        if day is None:
            return local_date(tz, tzname, minute)
        # Minutes of this UTC day (one offset) that fall on this local day.
        last = (
            max(utc_day * 1440, number * 1440 - offset),
            min(utc_day * 1440 + 1440, number * 1440 + 1440 - offset),
            day,
        )
        return day

    return date_local


def _text(value, admin_id, field: str, required: bool = False) -> str | None:
    if value.__class__ is str:
        value = value.strip()
        if value:
            return value
        if required:
            raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must not be empty")
        return None
    if value is None:
        if required:
            raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must be text, got {type(value).__name__}")
    value = str(value).strip()
    if required and not value:
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must not be empty")
    return value or None


def _flag(value, admin_id, field: str) -> bool | None:
    if value is None or value is True or value is False:
        return value
    if not isinstance(value, bool):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must be true or false, got {value!r}")
    return value


_DECIMAL_INTS = {n: Decimal(n) for n in range(0, 1001)}


def _amount(value, admin_id, field: str, positive: bool = False) -> Decimal | None:
    if value is None:
        return None
    if value.__class__ is int and 0 <= value <= 1000 and (value or not positive):
        return _DECIMAL_INTS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must be a number, got {type(value).__name__}")
    try:
        amount = Decimal(value) if isinstance(value, int) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"{field} must be a {'positive' if positive else 'non-negative'} number")
    return amount


def _text_list(value, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(item, (str, int)) and not isinstance(item, bool) for item in value
    ):
        raise _Bad("BAD_ENCOUNTER", None, f"{field} must be a list of codes")
    return tuple(str(item).strip().upper() for item in value)


def _administration(raw, index: int, tz, tzname: str) -> Administration:
    if not isinstance(raw, dict):
        raise _Bad("BAD_ENCOUNTER", None, f"administration #{index + 1} must be an object")
    get = raw.get
    admin_id = _text(get("id"), None, f"administration #{index + 1} id", required=True)
    drug = _text(get("drug"), admin_id, "drug", required=True)
    route = get("route")
    if route.__class__ is not str or route not in _ROUTES:
        if route is None:
            raise _Bad("BAD_ENCOUNTER", admin_id, "route is required")
        raise _Bad("UNKNOWN_ROUTE", admin_id, f"route {route!r} is not one of the documented routes")
    category = get("category")
    if category is not None and (category.__class__ is not str or category not in _CATEGORIES):
        raise _Bad("BAD_ENCOUNTER", admin_id, f"category {category!r} must be chemo, therapeutic or hydration")
    hcpcs = get("hcpcs")
    if hcpcs is not None:
        hcpcs = _text(hcpcs, admin_id, "hcpcs")
        hcpcs = hcpcs.upper() if hcpcs else None
    start_text = get("start")
    if start_text is None:
        raise _Bad("BAD_ENCOUNTER", admin_id, "start is required")
    start = parse_time(start_text, tz, tzname, admin_id, "start")
    stop_text = get("stop")
    stop = None if stop_text is None else parse_time(stop_text, tz, tzname, admin_id, "stop")
    if stop is not None and stop < start:
        raise _Bad("STOP_BEFORE_START", admin_id, f"stop {stop_text} is before start {start_text}")
    pauses = ()
    raw_pauses = get("pauses")
    if raw_pauses:
        if not isinstance(raw_pauses, list):
            raise _Bad("BAD_ENCOUNTER", admin_id, "pauses must be a list of {start, stop}")
        found = []
        for pause in raw_pauses:
            if not isinstance(pause, dict) or pause.get("start") is None or pause.get("stop") is None:
                raise _Bad("BAD_ENCOUNTER", admin_id, "each pause needs a start and a stop")
            p_start = parse_time(pause["start"], tz, tzname, admin_id, "pause start")
            p_stop = parse_time(pause["stop"], tz, tzname, admin_id, "pause stop")
            end = start if stop is None else stop
            if p_stop < p_start or p_start < start or p_stop > end:
                raise _Bad(
                    "PAUSE_OUTSIDE",
                    admin_id,
                    f"pause {pause['start']}-{pause['stop']} is not within the administration's start and stop",
                )
            found.append((p_start, p_stop))
        pauses = tuple(sorted(found))
    elif raw_pauses is not None and not isinstance(raw_pauses, list):
        raise _Bad("BAD_ENCOUNTER", admin_id, "pauses must be a list of {start, stop}")
    purpose = get("purpose")
    if purpose is not None and (purpose.__class__ is not str or purpose not in _PURPOSES):
        raise _Bad(
            "BAD_ENCOUNTER", admin_id, f"purpose {purpose!r} is not hydration, kvo, carrier or electrolyte_replacement"
        )
    separate = get("separate_encounter")
    if separate is False or separate is None:
        separate_key = None
    elif separate is True:
        separate_key = "\x00true"
    elif isinstance(separate, (str, int)):
        separate_key = str(separate)
    else:
        raise _Bad("BAD_ENCOUNTER", admin_id, "separate_encounter must be true or a label")
    pump_type = get("pump_type") or "portable"
    if pump_type != "portable" and pump_type != "implanted":
        raise _Bad("BAD_ENCOUNTER", admin_id, "pump_type must be portable or implanted")
    supplier = get("pump_supplied_by")
    if supplier is not None and supplier not in ("provider", "supplier"):
        raise _Bad("BAD_ENCOUNTER", admin_id, "pump_supplied_by must be provider or supplier")
    dose_unit = get("dose_unit")
    if dose_unit is not None:
        dose_unit = _text(dose_unit, admin_id, "dose_unit")
    integral = get("integral_to")
    if integral is not None and not isinstance(integral, (str, bool)):
        raise _Bad("BAD_ENCOUNTER", admin_id, "integral_to must be text")
    site = get("site")
    site = "A" if site is None else (_text(site, admin_id, "site") or "A")
    dose = get("dose")
    wasted = get("wasted")
    ndc = get("ndc")
    bag = get("bag")
    billing_unit = get("billing_unit")
    return Administration(
        admin_id,
        drug,
        hcpcs,
        category,
        route,
        site,
        start,
        stop,
        pauses,
        None if dose is None else _amount(dose, admin_id, "dose"),
        dose_unit,
        None if wasted is None else _amount(wasted, admin_id, "wasted"),
        None if ndc is None else _text(ndc, admin_id, "ndc"),
        _flag(get("single_dose_container"), admin_id, "single_dose_container"),
        _flag(get("acquired_340b"), admin_id, "acquired_340b") is True,
        purpose,
        _flag(get("primary_reason"), admin_id, "primary_reason") is True,
        separate_key,
        None if bag is None else _text(bag, admin_id, "bag"),
        _flag(get("hormonal"), admin_id, "hormonal"),
        None if billing_unit is None else _amount(billing_unit, admin_id, "billing_unit", positive=True),
        _flag(get("separate_site_required"), admin_id, "separate_site_required") is True,
        str(integral) if integral else None,
        pump_type,
        supplier,
    )


def parse_encounter(raw) -> tuple[Encounter | None, list[Issue]]:
    """(Encounter, []) or (None, errors). Never raises for any JSON value."""
    if not isinstance(raw, dict):
        return None, [Issue("BAD_ENCOUNTER", None, "an encounter must be a JSON object")]
    errors: list[Issue] = []
    try:
        encounter_id = raw.get("id")
        if encounter_id is None or isinstance(encounter_id, (bool, dict, list)):
            raise _Bad("BAD_ENCOUNTER", None, "the encounter id is required (text)")
        setting = raw.get("setting")
        if setting is None:
            raise _Bad("BAD_ENCOUNTER", None, "setting is required")
        if setting not in SETTINGS:
            raise _Bad("UNKNOWN_SETTING", None, f"setting {setting!r} is not facility or professional")
        tzname = raw.get("timezone")
        if tzname is None:
            tzname = "UTC"
        if not isinstance(tzname, str):
            raise _Bad("BAD_TIMEZONE", None, "timezone must be an IANA time zone name")
        tz = zone(tzname)
        payer = _text(raw.get("payer"), None, "payer") or "medicare"
        entity = raw.get("billing_entity")
        if entity is None:
            entity = "hospital" if setting == "facility" else "practice"
        elif entity not in BILLING_ENTITIES:
            raise _Bad("BAD_ENCOUNTER", None, f"billing_entity {entity!r} is not hospital, covered_entity or practice")
        status = raw.get("department_status") or "on_campus"
        if status not in DEPARTMENT_STATUSES:
            raise _Bad("BAD_ENCOUNTER", None, f"department_status {status!r} is not a documented value")
        pos = raw.get("place_of_service")
        if pos is None:
            pos = "11"
        elif isinstance(pos, int) and not isinstance(pos, bool):
            pos = f"{pos:02d}"
        elif not isinstance(pos, str):
            raise _Bad("BAD_ENCOUNTER", None, "place_of_service must be a two-digit text")
        em = raw.get("em")
        em_code, em_separate = None, False
        if em is not None:
            if not isinstance(em, dict):
                raise _Bad("BAD_ENCOUNTER", None, "em must be an object {code, separately_identifiable}")
            em_code = _text(em.get("code"), None, "em code", required=True)
            em_separate = bool(_flag(em.get("separately_identifiable"), None, "em separately_identifiable"))
        raw_admins = raw.get("administrations")
        if not isinstance(raw_admins, list):
            raise _Bad("BAD_ENCOUNTER", None, "administrations must be a list")
        other = _text_list(raw.get("other_services"), "other_services")
        diagnoses = _text_list(raw.get("diagnoses"), "diagnoses")
    except _Bad as bad:
        return None, [Issue(bad.code, bad.administration, bad.message)]
    administrations = []
    seen: set[str] = set()
    for index, item in enumerate(raw_admins):
        try:
            admin = _administration(item, index, tz, tzname)
        except _Bad as bad:
            errors.append(Issue(bad.code, bad.administration, bad.message))
            continue
        if admin.id in seen:
            errors.append(Issue("DUPLICATE_ID", admin.id, f"administration id {admin.id!r} is used twice"))
            continue
        seen.add(admin.id)
        administrations.append(admin)
    if errors:
        errors.sort(key=lambda e: (e.administration or "", e.code, e.message))  # independent of input order
        return None, errors[:_MAX_ERRORS]
    administrations.sort(key=lambda a: (a.start, a.id))
    return (
        Encounter(
            id=encounter_id,
            setting=setting,
            payer=payer,
            billing_entity=entity,
            department_status=status,
            other_services=other,
            timezone=tzname,
            tz=tz,
            diagnoses=diagnoses,
            place_of_service=pos,
            em_code=em_code.upper() if em_code else None,
            em_separate=em_separate,
            administrations=tuple(administrations),
        ),
        [],
    )
