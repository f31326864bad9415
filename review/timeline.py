"""The encounter timeline drawn by the server (issue 5 item 2): pure Python, no Django.

`render_svg(items, tz)` returns an SVG drawing: one lane per access site, a bar per infusion from
its start to its stop with the pauses cut out, a tick per push or injection, hydration shaded
differently (class and pattern), an infusion without a stop time drawn open-ended (dashed, up to
the end of the chart), and midnight marked. `table_rows(items, tz)` is the same content as rows
for the table that is the drawing's text alternative.

Colours are SVG presentation attributes (not `style=` attributes), so the strict CSP holds.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from zoneinfo import ZoneInfo

#: routes drawn as a tick (a moment), not a bar
TICK_ROUTES = frozenset(
    {
        "iv_push",
        "sc",
        "im",
        "intra_arterial",
        "intralesional",
        "intrathecal",
        "oral",
        "pump_refill",
        "pump_disconnect",
        "port_flush",
        "catheter_clearance",
        "on_body_injector",
    }
)
ROUTE_LABELS = {
    "iv_infusion": "IV infusion",
    "iv_push": "IV push",
    "sc": "SC injection",
    "im": "IM injection",
    "sc_infusion": "SC infusion",
    "intra_arterial": "Intra-arterial push",
    "intra_arterial_infusion": "Intra-arterial infusion",
    "intralesional": "Intralesional",
    "intrathecal": "Intrathecal",
    "oral": "Oral",
    "pump_prolonged": "Pump, prolonged",
    "pump_refill": "Pump refill",
    "pump_disconnect": "Pump disconnect",
    "port_flush": "Port flush",
    "catheter_clearance": "Catheter clearance",
    "on_body_injector": "On-body injector",
}

# Geometry (SVG user units)
WIDTH = 960
LABEL_WIDTH = 90
RIGHT_MARGIN = 20
TOP_MARGIN = 34
ROW_HEIGHT = 22
BAR_HEIGHT = 14
LANE_GAP = 10
BOTTOM_MARGIN = 26
#: an infusion without a stop time is drawn this far past the last known time (at least)
OPEN_END_MINUTES = 30
#: palette (presentation attributes)
FILL_INFUSION = "#1f5fa8"
FILL_HYDRATION = "#8fc1e3"
FILL_INTEGRAL = "#b7b7b7"
STROKE_TICK = "#b3261e"
STROKE_MIDNIGHT = "#6a1b9a"
STROKE_GRID = "#d0d4d9"
TEXT_COLOUR = "#212529"


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One administration as the timeline sees it (aware datetimes)."""

    id: str
    drug: str
    route: str
    site: str
    start: datetime.datetime
    stop: datetime.datetime | None = None
    pauses: tuple[tuple[datetime.datetime, datetime.datetime], ...] = ()
    hydration: bool = False
    integral: bool = False
    detail: str = ""

    @property
    def is_tick(self) -> bool:
        return self.route in TICK_ROUTES

    @property
    def is_open(self) -> bool:
        """A timed administration still without a stop time."""
        return not self.is_tick and self.stop is None

    def segments(self, end_if_open: datetime.datetime | None = None) -> list[tuple[datetime.datetime, ...]]:
        """The running intervals: start..stop with the pauses cut out (clipped, merged, ordered)."""
        stop = self.stop or end_if_open
        if self.is_tick or stop is None or stop <= self.start:
            return []
        pieces = [(self.start, stop)]
        for p_start, p_stop in sorted(self.pauses):
            out = []
            for a, b in pieces:
                if p_stop <= a or p_start >= b:
                    out.append((a, b))
                    continue
                if p_start > a:
                    out.append((a, p_start))
                if p_stop < b:
                    out.append((p_stop, b))
            pieces = out
        return pieces

    def own_minutes(self) -> int | None:
        """stop - start - pauses, in whole minutes; None without a stop time (or for a tick)."""
        if self.is_tick or self.stop is None:
            return None
        seconds = sum((b - a).total_seconds() for a, b in self.segments())
        return int(seconds // 60)


@dataclass
class _Lane:
    site: str
    rows: list[list[tuple[datetime.datetime, datetime.datetime]]] = field(default_factory=list)
    placed: list[tuple[TimelineItem, int]] = field(default_factory=list)


def _require_aware(value: datetime.datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")


def _validate(items: Sequence[TimelineItem]) -> None:
    for item in items:
        _require_aware(item.start, f"start of {item.id}")
        if item.stop is not None:
            _require_aware(item.stop, f"stop of {item.id}")
        for a, b in item.pauses:
            _require_aware(a, f"pause of {item.id}")
            _require_aware(b, f"pause of {item.id}")


def chart_range(
    items: Sequence[TimelineItem], tz: datetime.tzinfo
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """Whole local hours covering every start, stop and open end; None without items."""
    if not items:
        return None
    earliest = min(i.start for i in items)
    latest = max(max((i.stop or i.start) for i in items), earliest)
    if any(i.is_open for i in items) or latest == earliest:
        latest = latest + datetime.timedelta(minutes=OPEN_END_MINUTES)
    lo = earliest.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    hi_local = latest.astimezone(tz)
    hi = hi_local.replace(minute=0, second=0, microsecond=0)
    if hi < hi_local:
        hi = hi + datetime.timedelta(hours=1)
    if hi <= lo:
        hi = lo + datetime.timedelta(hours=1)
    return lo, hi


def _lanes(items: Sequence[TimelineItem], open_end: datetime.datetime) -> list[_Lane]:
    """One lane per site (site order); inside a lane, overlapping bars go on separate rows."""
    lanes: dict[str, _Lane] = {}
    for item in sorted(items, key=lambda i: (i.site, i.start, i.id)):
        lane = lanes.setdefault(item.site, _Lane(site=item.site))
        start = item.start
        end = item.stop or (open_end if item.is_open else item.start + datetime.timedelta(minutes=1))
        if item.is_tick:
            end = item.start + datetime.timedelta(minutes=1)
        for index, row in enumerate(lane.rows):
            if all(end <= a or start >= b for a, b in row):
                row.append((start, end))
                lane.placed.append((item, index))
                break
        else:
            lane.rows.append([(start, end)])
            lane.placed.append((item, len(lane.rows) - 1))
    return [lanes[k] for k in sorted(lanes)]


def _fmt_time(value: datetime.datetime, tz: datetime.tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M")


def _title(item: TimelineItem, tz: datetime.tzinfo) -> str:
    route = ROUTE_LABELS.get(item.route, item.route)
    when = _fmt_time(item.start, tz)
    if item.is_tick:
        text = f"{item.drug}, {route} at {when}, site {item.site}"
    elif item.stop is None:
        text = f"{item.drug}, {route} from {when}, no stop time, site {item.site}"
    else:
        minutes = item.own_minutes()
        text = f"{item.drug}, {route} {when}-{_fmt_time(item.stop, tz)} ({minutes} min), site {item.site}"
    if item.pauses:
        text += ", paused " + ", ".join(f"{_fmt_time(a, tz)}-{_fmt_time(b, tz)}" for a, b in item.pauses)
    if item.hydration:
        text += ", hydration"
    if item.integral:
        text += ", integral to a procedure"
    return text


def render_svg(
    items: Iterable[TimelineItem], tz: datetime.tzinfo | str, *, title: str = "Timeline of the administrations"
) -> str:
    """The SVG drawing (a complete `<svg>` element, every text escaped)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    items = list(items)
    _validate(items)
    span = chart_range(items, zone)
    if span is None:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" class="review-timeline" role="img" '
            'viewBox="0 0 960 40" aria-label="No administrations documented">'
            f'<text x="10" y="24" fill="{TEXT_COLOUR}">No administrations documented.</text></svg>'
        )
    lo, hi = span
    open_end = hi
    total = (hi - lo).total_seconds()
    plot_width = WIDTH - LABEL_WIDTH - RIGHT_MARGIN

    def x_of(moment: datetime.datetime) -> float:
        return round(LABEL_WIDTH + plot_width * (moment - lo).total_seconds() / total, 1)

    lanes = _lanes(items, open_end)
    y = TOP_MARGIN
    lane_tops: list[tuple[_Lane, int, int]] = []
    for lane in lanes:
        height = max(1, len(lane.rows)) * ROW_HEIGHT
        lane_tops.append((lane, y, height))
        y += height + LANE_GAP
    height_total = y + BOTTOM_MARGIN
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="review-timeline" role="img" '
        f'viewBox="0 0 {WIDTH} {height_total}" preserveAspectRatio="xMinYMin meet" aria-labelledby="tl-title">',
        f'<title id="tl-title">{escape(title)}</title>',
        "<defs>"
        '<pattern id="tl-hydration" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{FILL_HYDRATION}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern>'
        "</defs>",
    ]
    # hour grid and labels
    hours = int(total // 3600)
    step = 1 if hours <= 12 else 2 if hours <= 24 else math.ceil(hours / 12)
    moment = lo
    index = 0
    while moment <= hi:
        x = x_of(moment)
        local = moment.astimezone(zone)
        is_midnight = local.hour == 0 and local.minute == 0
        if is_midnight:
            parts.append(
                f'<line class="tl-midnight" x1="{x}" y1="{TOP_MARGIN - 14}" x2="{x}" '
                f'y2="{height_total - BOTTOM_MARGIN}" '
                f'stroke="{STROKE_MIDNIGHT}" stroke-width="2" stroke-dasharray="4 3"/>'
                f'<text class="tl-midnight-label" x="{x + 3}" y="{TOP_MARGIN - 18}" font-size="11" '
                f'fill="{STROKE_MIDNIGHT}">midnight {local.date().isoformat()}</text>'
            )
        elif index % step == 0:
            parts.append(
                f'<line class="tl-grid" x1="{x}" y1="{TOP_MARGIN - 6}" x2="{x}" y2="{height_total - BOTTOM_MARGIN}" '
                f'stroke="{STROKE_GRID}" stroke-width="1"/>'
                f'<text x="{x}" y="{TOP_MARGIN - 10}" font-size="11" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{local.strftime("%H:%M")}</text>'
            )
        moment = (moment.astimezone(datetime.UTC) + datetime.timedelta(hours=1)).astimezone(zone)
        index += 1
    # lanes
    for lane, top, height in lane_tops:
        parts.append(
            f'<g class="tl-lane" aria-label="Site {escape(lane.site)}">'
            f'<rect x="0" y="{top - 2}" width="{WIDTH}" height="{height + 4}" fill="#f5f7fa" opacity="0.6"/>'
            f'<text x="6" y="{top + ROW_HEIGHT / 2 + 4}" font-size="12" font-weight="bold" '
            f'fill="{TEXT_COLOUR}">Site {escape(lane.site)}</text>'
        )
        for item, row in lane.placed:
            row_top = top + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
            label = escape(_title(item, zone))
            if item.is_tick:
                x = x_of(item.start)
                parts.append(
                    f'<g class="tl-push"><title>{label}</title>'
                    f'<line x1="{x}" y1="{row_top - 3}" x2="{x}" y2="{row_top + BAR_HEIGHT + 3}" '
                    f'stroke="{STROKE_TICK}" stroke-width="3"/>'
                    f'<text x="{x + 4}" y="{row_top + BAR_HEIGHT - 2}" font-size="10" '
                    f'fill="{TEXT_COLOUR}">{escape(item.drug[:24])}</text></g>'
                )
                continue
            css = "tl-hydration" if item.hydration else "tl-integral" if item.integral else "tl-infusion"
            fill = "url(#tl-hydration)" if item.hydration else FILL_INTEGRAL if item.integral else FILL_INFUSION
            parts.append(f'<g class="{css}{" tl-open" if item.is_open else ""}"><title>{label}</title>')
            segments = item.segments(end_if_open=open_end)
            for a, b in segments:
                x1, x2 = x_of(a), x_of(b)
                dash = ' stroke="#b3261e" stroke-width="1.5" stroke-dasharray="5 3"' if item.is_open else ""
                parts.append(
                    f'<rect x="{x1}" y="{row_top}" width="{max(round(x2 - x1, 1), 1.0)}" height="{BAR_HEIGHT}" '
                    f'rx="2" fill="{fill}"{dash}/>'
                )
            for a, b in item.pauses:
                if item.stop is not None and not (a < item.stop and b > item.start):
                    continue
                x1, x2 = x_of(max(a, item.start)), x_of(min(b, item.stop or open_end))
                parts.append(
                    f'<line class="tl-pause" x1="{x1}" y1="{row_top + BAR_HEIGHT / 2}" x2="{x2}" '
                    f'y2="{row_top + BAR_HEIGHT / 2}" stroke="{TEXT_COLOUR}" stroke-width="1" stroke-dasharray="2 2"/>'
                )
            if segments:
                text_x = x_of(segments[0][0]) + 3
                colour = TEXT_COLOUR if item.hydration or item.integral else "#ffffff"
                suffix = " (no stop time)" if item.is_open else ""
                parts.append(
                    f'<text x="{text_x}" y="{row_top + BAR_HEIGHT - 3}" font-size="10" '
                    f'fill="{colour}">{escape(item.drug[:30] + suffix)}</text>'
                )
            parts.append("</g>")
        parts.append("</g>")
    # legend
    legend_y = height_total - 8
    parts.append(
        f'<g class="tl-legend" font-size="11" fill="{TEXT_COLOUR}">'
        f'<rect x="{LABEL_WIDTH}" y="{legend_y - 9}" width="14" height="9" fill="{FILL_INFUSION}"/>'
        f'<text x="{LABEL_WIDTH + 18}" y="{legend_y}">infusion</text>'
        f'<rect x="{LABEL_WIDTH + 80}" y="{legend_y - 9}" width="14" height="9" fill="url(#tl-hydration)"/>'
        f'<text x="{LABEL_WIDTH + 98}" y="{legend_y}">hydration</text>'
        f'<line x1="{LABEL_WIDTH + 172}" y1="{legend_y - 10}" x2="{LABEL_WIDTH + 172}" y2="{legend_y + 1}" '
        f'stroke="{STROKE_TICK}" stroke-width="3"/><text x="{LABEL_WIDTH + 178}" y="{legend_y}">push / injection</text>'
        f'<line x1="{LABEL_WIDTH + 290}" y1="{legend_y - 4}" x2="{LABEL_WIDTH + 310}" y2="{legend_y - 4}" '
        f'stroke="{TEXT_COLOUR}" stroke-dasharray="2 2"/><text x="{LABEL_WIDTH + 314}" y="{legend_y}">paused</text>'
        "</g>"
    )
    parts.append("</svg>")
    return "".join(parts)


def table_rows(items: Iterable[TimelineItem], tz: datetime.tzinfo | str) -> list[dict[str, str]]:
    """The text alternative of the drawing: one row per administration, in site and time order."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    items = list(items)
    _validate(items)
    rows = []
    for item in sorted(items, key=lambda i: (i.site, i.start, i.id)):
        start_local = item.start.astimezone(zone)
        stop_local = item.stop.astimezone(zone) if item.stop else None
        if item.is_tick:
            kind = "push / injection"
        elif item.hydration:
            kind = "hydration"
        else:
            kind = "infusion"
        if item.integral:
            kind += " (integral to a procedure)"
        stop_text = ""
        if stop_local is not None:
            stop_text = stop_local.strftime("%H:%M")
            if stop_local.date() != start_local.date():
                stop_text += f" ({stop_local.date().isoformat()})"
        elif not item.is_tick:
            stop_text = "missing"
        minutes = item.own_minutes()
        rows.append(
            {
                "id": item.id,
                "site": item.site,
                "drug": item.drug,
                "route": ROUTE_LABELS.get(item.route, item.route),
                "kind": kind,
                "date": start_local.date().isoformat(),
                "start": start_local.strftime("%H:%M"),
                "stop": stop_text,
                "pauses": ", ".join(f"{_fmt_time(a, zone)}-{_fmt_time(b, zone)}" for a, b in item.pauses),
                "minutes": "" if minutes is None else str(minutes),
                "detail": item.detail,
            }
        )
    return rows
