"""The results chart as hand-written SVG: horizontal bars (median) with min-max whiskers, one panel per
question, and a dashed line where the target sits. No plotting package: the bench runs on the project's pins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from bench.stats import Summary

WIDTH = 960
LABEL_WIDTH = 220
NOTE_WIDTH = 170
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TITLE_HEIGHT = 62
AXIS_HEIGHT = 28
PANEL_GAP = 22
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
OURS = "#1f6feb"
PEER = "#8b949e"
REFERENCE = "#2da44e"


@dataclass(frozen=True)
class Bar:
    label: str
    summary: Summary
    note: str
    kind: str  # "ours", "peer" or "reference"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    bars: list[Bar]
    caption: str = ""
    target: float | None = None
    target_label: str = ""


def axis_step(highest: float) -> float:
    """A 1-2-2.5-5 step giving at most five gridlines up to ``highest``."""
    magnitude = 10.0 ** math.floor(math.log10(highest / 5)) if highest > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude * 5 >= highest:
            return factor * magnitude
    return 10 * magnitude


def _panel(panel: Panel, top: float) -> tuple[list[str], float]:
    colors = {"ours": OURS, "peer": PEER, "reference": REFERENCE}
    plot_left = LABEL_WIDTH
    plot_width = WIDTH - LABEL_WIDTH - NOTE_WIDTH - 20
    highest = max([bar.summary.high for bar in panel.bars] + [panel.target or 0.0])
    step = axis_step(highest * 1.02)
    ticks = math.ceil(highest * 1.02 / step)
    ceiling = step * ticks

    def x(value: float) -> float:
        return plot_left + plot_width * value / ceiling

    parts = [
        f"<text x='16' y='{top + 22:.1f}' {FONT} font-size='16' "
        f"font-weight='bold'>{escape(panel.title)}</text>",
        f"<text x='16' y='{top + 39:.1f}' {FONT} font-size='11.5' "
        f"fill='#57606a'>{escape(panel.caption)}</text>",
    ]
    body_top = top + TITLE_HEIGHT
    body_height = ROW_HEIGHT * len(panel.bars)
    for tick in range(ticks + 1):
        value = step * tick
        parts.append(
            f"<line x1='{x(value):.1f}' y1='{body_top - 4:.1f}' x2='{x(value):.1f}' "
            f"y2='{body_top + body_height:.1f}' stroke='#d0d7de' stroke-width='1'/>"
        )
        parts.append(
            f"<text x='{x(value):.1f}' y='{body_top + body_height + 16:.1f}' {FONT} font-size='11' "
            f"fill='#57606a' text-anchor='middle'>{value:,.4g} {escape(panel.unit)}</text>"
        )
    for index, bar in enumerate(panel.bars):
        row_top = body_top + index * ROW_HEIGHT
        middle = row_top + ROW_HEIGHT / 2
        color = colors[bar.kind]
        weight = " font-weight='bold'" if bar.kind == "ours" else ""
        parts.append(
            f"<text x='{plot_left - 8}' y='{middle + 4:.1f}' {FONT} font-size='12' "
            f"text-anchor='end'{weight}>{escape(bar.label)}</text>"
        )
        parts.append(
            f"<rect x='{plot_left}' y='{middle - BAR_HEIGHT / 2:.1f}' "
            f"width='{x(bar.summary.median) - plot_left:.1f}' height='{BAR_HEIGHT}' fill='{color}' "
            f"rx='2'><title>{escape(bar.label)}: "
            f"{escape(bar.summary.text(1, ' ' + panel.unit))}</title></rect>"
        )
        low, high = x(bar.summary.low), x(bar.summary.high)
        parts.append(
            f"<path d='M{low:.1f},{middle:.1f} H{high:.1f} M{low:.1f},{middle - 5:.1f} V{middle + 5:.1f} "
            f"M{high:.1f},{middle - 5:.1f} V{middle + 5:.1f}' stroke='#24292f' stroke-width='1.2' "
            "fill='none'/>"
        )
        parts.append(
            f"<text x='{WIDTH - NOTE_WIDTH}' y='{middle + 4:.1f}' {FONT} "
            f"font-size='12'{weight}>{escape(bar.note)}</text>"
        )
    if panel.target is not None:
        target_x = x(panel.target)
        parts.append(
            f"<line x1='{target_x:.1f}' y1='{body_top - 12:.1f}' x2='{target_x:.1f}' "
            f"y2='{body_top + body_height:.1f}' stroke='#cf222e' stroke-width='1.5' stroke-dasharray='5,4'/>"
        )
        parts.append(
            f"<text x='{target_x + 4:.1f}' y='{body_top - 2:.1f}' {FONT} font-size='11' "
            f"fill='#cf222e'>{escape(panel.target_label)}</text>"
        )
    return parts, TITLE_HEIGHT + body_height + AXIS_HEIGHT


def render(title: str, subtitle: str, panels: list[Panel]) -> str:
    parts = [
        f"<text x='16' y='28' {FONT} font-size='19' font-weight='bold'>{escape(title)}</text>",
        f"<text x='16' y='48' {FONT} font-size='12' fill='#57606a'>{escape(subtitle)}</text>",
    ]
    top = 60.0
    for panel in panels:
        panel_parts, height = _panel(panel, top)
        parts.extend(panel_parts)
        top += height + PANEL_GAP
    legend_y = top + 4
    for offset, (name, color) in enumerate(
        (("this authorizer", OURS), ("limit / floor", REFERENCE), ("peers and baselines", PEER))
    ):
        left = 16 + offset * 190
        parts.append(f"<rect x='{left}' y='{legend_y:.1f}' width='14' height='14' fill='{color}' rx='2'/>")
        parts.append(
            f"<text x='{left + 20}' y='{legend_y + 12:.1f}' {FONT} font-size='12'>{escape(name)}</text>"
        )
    parts.append(
        f"<text x='{16 + 3 * 190}' y='{legend_y + 12:.1f}' {FONT} font-size='12' fill='#57606a'>bar = "
        "median, whisker = min-max</text>"
    )
    height = legend_y + 30
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height:.0f}' viewBox='0 0 {WIDTH} "
        f"{height:.0f}' role='img'>\n<title>{escape(title)}</title>\n<rect width='100%' height='100%' "
        "fill='white'/>\n" + "\n".join(parts) + "\n</svg>\n"
    )
