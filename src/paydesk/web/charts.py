"""Small server-side SVG charts: no script, no build step, readable by screen readers via a label."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape


def line_chart(points: Sequence[tuple[datetime, int]], *, label: str, width: int = 640, height: int = 180) -> str:
    """A step line of integer values over time (a balance changes at transfers and holds between them)."""
    if len(points) < 2:
        return ""
    pad = 8
    start, end = points[0][0].timestamp(), points[-1][0].timestamp()
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span_t = max(end - start, 1.0)
    span_v = max(high - low, 1)

    def xy(moment: datetime, value: int) -> tuple[float, float]:
        x = pad + (moment.timestamp() - start) / span_t * (width - 2 * pad)
        y = height - pad - (value - low) / span_v * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    coords: list[tuple[float, float]] = []
    for i, (moment, value) in enumerate(points):
        x, y = xy(moment, value)
        if i:
            coords.append((x, coords[-1][1]))  # hold the previous value until this change: a step
        coords.append((x, y))
    line = " ".join(f"{x},{y}" for x, y in coords)
    area = f"{pad},{height - pad} {line} {coords[-1][0]},{height - pad}"
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'preserveAspectRatio="none"><title>{escape(label)}</title>'
        f'<polygon points="{area}" class="area"/><polyline points="{line}" class="line"/></svg>'
    )
