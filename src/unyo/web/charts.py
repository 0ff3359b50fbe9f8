"""Charts drawn on the server as inline SVG (no script, no CDN): the automation trend."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from unyo.app.dashboard import DayRate

W, H = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


def trend_svg(days: Sequence[DayRate], title: str) -> Markup:
    """Daily automation rate as a line (gaps on days without orders) over bars of volume."""
    n = max(1, len(days))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / n
    most = max((d.orders for d in days), default=0) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for pct in (0, 50, 100):
        y = TOP + plot_h * (1 - pct / 100)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{pct}%</text>')
    segments: list[list[str]] = [[]]
    for i, d in enumerate(days):
        x = LEFT + step * (i + 0.5)
        bar = plot_h * 0.35 * d.orders / most
        parts.append(f'<rect class="volume" x="{x - step * 0.35:.1f}" y="{TOP + plot_h - bar:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{bar:.1f}"><title>{d.day:%m/%d}: '
                     f'{d.automated}/{d.orders}</title></rect>')
        if i % 7 == (len(days) - 1) % 7:
            parts.append(f'<text class="axis" x="{x:.1f}" y="{H - 8}" '
                         f'text-anchor="middle">{d.day:%m/%d}</text>')
        if d.rate is None:
            segments.append([])
            continue
        y = TOP + plot_h * (1 - d.rate)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>')
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="line" points="{" ".join(seg)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
