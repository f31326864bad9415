"""Bar charts drawn by the server as SVG (issue 6 item 4). Pure Python, no script.

Presentation attributes only (`fill`, `x`, `width`, ...), never a `style` attribute, so the strict
content security policy (no inline style) holds. Every chart is an `<svg role="img">` with a
`<title>` and `<desc>`; the page shows the same numbers as a table next to it (the text
alternative). Text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Number = int | float | Decimal

BAR_FILL = "#0d6efd"
AXIS_STROKE = "#6c757d"
TEXT_FILL = "#212529"


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    value: Number


def _fmt(value: Number) -> str:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), ",f")
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _scale_max(values: Sequence[Number]) -> float:
    top = max((float(v) for v in values), default=0.0)
    return top if top > 0 else 1.0


def column_chart(
    points: Sequence[Point], *, title: str, chart_id: str, width: int = 720, height: int = 220, label_every: int = 1
) -> SafeString:
    """Vertical bars, one per point (e.g. one per day), labels under every `label_every`th bar."""
    pad_left, pad_bottom, pad_top = 48, 36, 12
    plot_w = width - pad_left - 8
    plot_h = height - pad_bottom - pad_top
    top = _scale_max([p.value for p in points])
    n = max(len(points), 1)
    highest = _fmt(max((p.value for p in points), default=0))
    base_y = pad_top + plot_h
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(title)}: {len(points)} values, highest {highest}; '
        "the table below gives every value.</desc>",
        f'<line x1="{pad_left}" y1="{base_y}" x2="{width - 8}" y2="{base_y}" stroke="{AXIS_STROKE}"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 10}" text-anchor="end" font-size="11" fill="{TEXT_FILL}">'
        f"{escape(highest)}</text>",
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end" font-size="11" fill="{TEXT_FILL}">0</text>',
    ]
    for index, point in enumerate(points):
        h = float(point.value) / top * plot_h if point.value else 0.0
        x = pad_left + index * slot + (slot - bar_w) / 2
        y = pad_top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR_FILL}">'
            f"<title>{escape(point.label)}: {escape(_fmt(point.value))}</title></rect>"
        )
        if index % max(label_every, 1) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - pad_bottom + 14}" text-anchor="middle" font-size="10" '
                f'fill="{TEXT_FILL}">{escape(point.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def bar_chart(
    points: Sequence[Point], *, title: str, chart_id: str, width: int = 480, bar_height: int = 22
) -> SafeString:
    """Horizontal bars with the label on the left and the value on the right (e.g. top codes)."""
    pad_left, pad_right, pad_top = 90, 70, 6
    plot_w = width - pad_left - pad_right
    height = pad_top * 2 + max(len(points), 1) * bar_height
    top = _scale_max([p.value for p in points])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(title)}: {len(points)} bars; the table below gives every value.</desc>',
    ]
    for index, point in enumerate(points):
        y = pad_top + index * bar_height
        w = float(point.value) / top * plot_w if point.value else 0.0
        parts.append(
            f'<text x="{pad_left - 6}" y="{y + bar_height * 0.65:.1f}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_FILL}">{escape(point.label)}</text>'
            f'<rect x="{pad_left}" y="{y + 3}" width="{w:.1f}" height="{bar_height - 6}" fill="{BAR_FILL}"/>'
            f'<text x="{pad_left + w + 4:.1f}" y="{y + bar_height * 0.65:.1f}" font-size="12" fill="{TEXT_FILL}">'
            f"{escape(_fmt(point.value))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
