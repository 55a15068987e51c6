"""Charts drawn on the server as inline SVG (no script, no CDN): a line chart of a daily series
and a horizontal funnel. Labels are text the caller translated; everything is escaped."""

from __future__ import annotations

from markupsafe import Markup, escape

#: a phone-sized drawing (375 px screens show it 1:1; wider screens scale it up)
WIDTH, HEIGHT = 360, 190
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 50, 8, 24, 24


def _nice_top(value: int) -> int:
    if value <= 0:
        return 1
    step = 1
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def line_chart(title: str, days: list[str], values: list[int], *, money: bool = False, chart_id: str = "") -> Markup:
    """A line chart of ``values`` (one a day); ``money``: values are fen, axis in ¥."""
    top = _nice_top(max(values, default=0))
    bottom = -_nice_top(-min(values)) if values and min(values) < 0 else 0  # a day of refunds only
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(values), 1)

    def x(i: int) -> float:
        return PAD_LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: int) -> float:
        return PAD_TOP + inner_h - inner_h * (v - bottom) / (top - bottom)

    def label(v: int) -> str:
        return f"¥{v / 100:,.0f}" if money else f"{v:,}"

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet" width="100%">',
        f"<title>{escape(title)}</title>",
        f'<text x="{PAD_LEFT}" y="14" class="chart-title" font-size="13">{escape(title)}</text>',
    ]
    shown = set()
    for step in range(5):
        value = bottom + (top - bottom) * step // 4
        if value in shown:
            continue
        shown.add(value)
        yy = y(value)
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
        parts.append(
            f'<text x="{PAD_LEFT - 4}" y="{yy + 4:.1f}" text-anchor="end" font-size="10" fill="#666">{escape(label(value))}</text>'
        )
    if values:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="#e4393c" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="#e4393c"><title>{escape(days[i])}: {escape(label(v))}</title></circle>'
            )
        every = max(1, (len(days) + 4) // 5)
        for i in range(0, len(days), every):
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="10" fill="#666">{escape(days[i][5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel_chart(title: str, steps: list[tuple[str, int]], chart_id: str = "") -> Markup:
    """Horizontal bars, one a step, widths proportional to the first step."""
    row_h, label_w = 32, 92
    height = PAD_TOP + row_h * len(steps) + 8
    first = max((v for _s, v in steps), default=0) or 1
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-size="13">{escape(title)}</text>',
    ]
    bar_w = WIDTH - label_w - 48
    for i, (name, value) in enumerate(steps):
        yy = PAD_TOP + i * row_h
        width = max(2.0, bar_w * value / first)
        parts.append(f'<text x="0" y="{yy + 22}" font-size="13">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{yy + 6}" width="{width:.1f}" height="22" rx="3" fill="#e4393c" opacity="{1 - i * 0.18:.2f}"/>'
        )
        parts.append(f'<text x="{label_w + width + 6:.1f}" y="{yy + 22}" font-size="13">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
