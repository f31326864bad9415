"""Times as nurses type them, turned into aware datetimes in the center's time zone.

Accepted clock texts: ``14:30``, ``1430``, ``930``, ``9``, ``2:30 pm``, ``2:30pm``, ``2 pm``,
``14.30``, ``14h30``. The date comes separately (the form defaults it to the encounter date).

Local times on daylight-saving days are never guessed: a wall time that happens twice (clocks
fall back) raises `AmbiguousTime` carrying both instants so the form can ask which one; a wall
time that does not exist (clocks spring forward) raises `NonexistentTime`. A stop earlier than
its start is offered as the next day by `next_day_suggestion`, never assumed.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = datetime.UTC

_CLOCK_RE = re.compile(
    r"^\s*(?P<h>\d{1,2})(?:\s*[:.h]\s*(?P<m>\d{2})|(?P<m2>\d{2}))?\s*(?P<ampm>[ap]\.?\s*m?\.?)?\s*$",
    re.IGNORECASE,
)
_COMPACT_RE = re.compile(r"^\s*(?P<hm>\d{3,4})\s*(?P<ampm>[ap]\.?\s*m?\.?)?\s*$", re.IGNORECASE)

HINT = "Enter a time like 14:30, 1430 or 2:30 pm."


class TimeParseError(ValueError):
    """The text is not a time of day."""


class LocalTimeError(ValueError):
    """Base of the daylight-saving problems."""


class AmbiguousTime(LocalTimeError):
    """The wall time happens twice on that day; `choices` holds the earlier and later instant."""

    def __init__(self, message: str, choices: tuple[datetime.datetime, datetime.datetime]) -> None:
        super().__init__(message)
        self.choices = choices


class NonexistentTime(LocalTimeError):
    """The wall time is skipped on that day (clocks spring forward)."""


def parse_clock(text: str) -> datetime.time:
    """A time of day from what a nurse typed; raises `TimeParseError` with a readable message."""
    raw = (text or "").strip()
    if not raw:
        raise TimeParseError("Enter a time. " + HINT)
    hour: int
    minute: int
    ampm: str | None
    m = _COMPACT_RE.match(raw)
    if m:
        digits = m.group("hm")
        hour, minute = int(digits[:-2]), int(digits[-2:])
        ampm = m.group("ampm")
    else:
        m = _CLOCK_RE.match(raw)
        if not m:
            raise TimeParseError(f"“{raw}” is not a time. " + HINT)
        hour = int(m.group("h"))
        minute = int(m.group("m") or m.group("m2") or 0)
        ampm = m.group("ampm")
    if ampm:
        letter = ampm.strip()[0].lower()
        if not 1 <= hour <= 12:
            raise TimeParseError(f"“{raw}”: with am/pm the hour must be 1 to 12. " + HINT)
        hour = hour % 12 + (12 if letter == "p" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise TimeParseError(f"“{raw}” is not a time of day. " + HINT)
    return datetime.time(hour, minute)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _round_trips(candidate: datetime.datetime, tz: ZoneInfo) -> bool:
    back = candidate.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == candidate.replace(tzinfo=None)


def local_datetime(
    day: datetime.date, clock: datetime.time, tz: ZoneInfo, fold: int | None = None
) -> datetime.datetime:
    """The aware datetime for `day` + `clock` in `tz`.

    `fold` (0 = the earlier, 1 = the later occurrence) answers an ambiguous time; without it an
    ambiguous time raises `AmbiguousTime`. A skipped time always raises `NonexistentTime`.
    """
    naive = datetime.datetime.combine(day, clock)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    if not (_round_trips(first, tz) and _round_trips(second, tz)):
        raise NonexistentTime(
            f"{clock:%H:%M} does not exist on {day.isoformat()}: the clocks skip that hour. Check the time."
        )
    if fold in (0, 1):
        return second if fold else first
    a, b = sorted((first, second), key=lambda d: d.astimezone(UTC))
    raise AmbiguousTime(
        f"{clock:%H:%M} happens twice on {day.isoformat()} (the clocks fall back). Choose which one.",
        (a, b),
    )


def describe_choice(value: datetime.datetime) -> str:
    """`01:30 EDT (first)` style label for an ambiguous-time choice."""
    return f"{value:%H:%M} {value.tzname()}"


@dataclass(frozen=True)
class NextDaySuggestion:
    stop: datetime.datetime
    message: str


def next_day_suggestion(start: datetime.datetime, stop: datetime.datetime) -> NextDaySuggestion | None:
    """When `stop` is not after `start` on the same calendar day, offer the same clock time tomorrow.

    Returns None when the next-day reading would not help (the stop date was not the start date,
    or tomorrow's time is still not after the start). The caller asks the nurse; it never assumes.
    """
    if stop > start:
        return None
    tz = stop.tzinfo
    if stop.date() != start.date() or tz is None:
        return None
    tomorrow = stop.date() + datetime.timedelta(days=1)
    try:
        candidate = local_datetime(tomorrow, stop.timetz().replace(tzinfo=None), tz, fold=0)  # type: ignore[arg-type]
    except LocalTimeError:
        return None
    if candidate <= start:
        return None
    return NextDaySuggestion(stop=candidate, message=f"{stop:%H:%M} tomorrow?")


def now_in(tz: ZoneInfo) -> datetime.datetime:
    from django.utils import timezone as djtz

    return djtz.now().astimezone(tz)
