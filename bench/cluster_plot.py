"""The plot of bench/cluster.py, drawn with Pillow (a dependency already; no matplotlib): answers per
second (failures in red) above, p99 latency per second below, in 1-s buckets, the kill of a node
marked (and the kill window shaded), and its restart."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

W, H = 1200, 760
LEFT, RIGHT = 90, 30
PANELS = ((100, 395), (455, 700))  # (top, bottom) of each panel


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _ascii(text: str) -> str:
    """The default font has no dashes, times signs or arrows."""
    for a, b in (("—", "-"), ("–", "-"), ("×", "x"), ("→", "->"), ("≤", "<=")):
        text = text.replace(a, b)
    return text.encode("ascii", "replace").decode()


def _nice(top: float) -> float:
    if not top or math.isnan(top) or top <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(top))
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= top:
            return m * step
    return 10 * step


def draw(path: str, buckets: list[dict], seconds: float, title: str, subtitle: str, events: dict) -> None:
    """``events``: ``kill`` (s), ``window`` ((from, to) s), ``restart`` (s), ``rejoined`` (s), ``failed``
    (requests that failed at the kill); any may be None."""
    image = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(image)
    font, small, big = _font(15), _font(13), _font(20)
    d.text((LEFT, 10), _ascii(title), fill="#111", font=big)
    words, lines = _ascii(subtitle).split(" "), [""]
    for word in words:  # wrap the subtitle to the width
        trial = f"{lines[-1]} {word}".strip()
        if d.textlength(trial, font=small) > W - LEFT - RIGHT and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = trial
    for n, line in enumerate(lines[:2]):
        d.text((LEFT, 36 + 15 * n), line, fill="#444", font=small)
    span = max(1.0, float(seconds))

    def x(t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * min(max(t, 0.0), span) / span

    series = [
        ("answers per second (red: failures)", [b["requests"] for b in buckets], "#2f6fb3", "req/s"),
        ("p99 latency per second", [b["p99"] for b in buckets], "#d08a1a", "ms"),
    ]
    for (top, bottom), (label, values, colour, unit) in zip(PANELS, series, strict=True):
        finite = [v for v in values if v is not None and not math.isnan(v)]
        ceiling = _nice(max(finite) * 1.1 if finite else 1.0)

        def y(v: float, top=top, bottom=bottom, ceiling=ceiling) -> float:
            return bottom - (bottom - top) * min(v, ceiling) / ceiling

        window = events.get("window")
        if window:
            d.rectangle([x(window[0]), top, max(x(window[1]), x(window[0]) + 2), bottom], fill="#fde2e2")
        for n in range(5):  # grid and the value axis
            v = ceiling * n / 4
            d.line([LEFT, y(v), W - RIGHT, y(v)], fill="#e6e6e6")
            d.text((8, y(v) - 8), f"{v:,.0f}", fill="#555", font=small)
        d.text((LEFT, top - 24), f"{label} [{unit}]", fill="#222", font=font)
        step = 10 if span > 40 else (5 if span > 12 else 1)
        for t in range(0, int(span) + 1, step):  # time axis
            d.line([x(t), bottom, x(t), bottom + 5], fill="#555")
            d.text((x(t) - 8, bottom + 8), f"{t}s", fill="#555", font=small)
        d.line([LEFT, bottom, W - RIGHT, bottom], fill="#555")
        d.line([LEFT, top, LEFT, bottom], fill="#555")
        width = max(1.0, (W - LEFT - RIGHT) / span - 2)
        for b, v in zip(buckets, values, strict=True):
            if v is None or math.isnan(v) or b["second"] >= span:
                continue
            left = x(b["second"]) + 1
            if unit == "req/s":
                d.rectangle([left, y(v), left + width, bottom], fill=colour)
                if b["failures"]:  # at least 3 px: a handful of failures must show
                    d.rectangle([left, min(y(b["failures"]), bottom - 3), left + width, bottom], fill="#d62728")
            else:
                d.rectangle([left, y(v) - 2, left + width, y(v) + 2], fill=colour)
        for key, colour_, text in (("kill", "#d62728", "node A killed"), ("restart", "#2ca02c", "node A restarted")):
            at = events.get(key)
            if at is not None:
                d.line([x(at), top, x(at), bottom], fill=colour_, width=3)
                if key == "kill" and events.get("failed") is not None:
                    text += f": {events['failed']} requests in flight there failed"
                d.text((x(at) + 5, top + 4), text, fill=colour_, font=small)
        if events.get("rejoined") is not None:
            at = events["rejoined"]
            d.line([x(at), top, x(at), bottom], fill="#2ca02c", width=1)
            d.text((x(at) + 5, top + 22), "answers again", fill="#2ca02c", font=small)
    d.text(
        (LEFT, H - 30),
        "seconds since the load began (1-s buckets, by the second a request ended)",
        fill="#444",
        font=small,
    )
    image.save(path, "PNG", optimize=True)
