"""Turning measurements into the table: medians, spreads, ratios, and docs/performance.md.

A figure is the median of its repeats with the spread (min-max) beside it. A
ratio is computed from the two medians and always names the side it favours
("Wayline 3.2x faster"). Nothing here judges a figure against a threshold.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from plan import Row, Scenario, Source

Runs = dict[tuple[str, str, str], list[dict[str, Any]]]  # (scenario, side, variant) -> results


@dataclass
class Figure:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cell(self, unit: str) -> str:
        text = fmt(self.median)
        if len(self.values) > 1:
            text += f" [{fmt(min(self.values))}-{fmt(max(self.values))}]"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "n": len(self.values),
            "values": self.values,
        }


def fmt(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def figure(runs: Runs, side: str, source: Source | None) -> Figure | None:
    if source is None:
        return None
    values = [
        v
        for result in runs.get((source.scenario, side, source.variant), [])
        if (v := source.value(result)) is not None
    ]
    return Figure(values) if values else None


def ratio_text(row: Row, wayline: Figure | None, dbos: Figure | None) -> str:
    if not row.better or wayline is None or dbos is None:
        return ""
    w, d = wayline.median, dbos.median
    if w <= 0 or d <= 0:
        return ""
    wayline_wins = w <= d if row.better == "lower" else w >= d
    factor = max(w, d) / min(w, d)
    if abs(factor - 1) < 0.005:
        return "same"
    return f"{'Wayline' if wayline_wins else 'DBOS'} {factor:.1f}x {row.adjective}"


@dataclass
class Line:
    """A rendered row of the table."""

    row: Row
    wayline: Figure | None
    dbos: Figure | None
    wayline_text: str
    dbos_text: str
    ratio: str

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.row.label,
            "unit": self.row.unit,
            "better": self.row.better,
            "wayline": self.wayline.to_json() if self.wayline else None,
            "dbos": self.dbos.to_json() if self.dbos else None,
            "wayline_text": self.wayline_text,
            "dbos_text": self.dbos_text,
            "ratio": self.ratio,
            "chart": self.row.chart,
        }


def lines(scenarios: list[Scenario], runs: Runs) -> list[Line]:
    out = []
    for scenario in scenarios:
        for row in scenario.rows:
            w = figure(runs, "wayline", row.wayline)
            d = figure(runs, "dbos", row.dbos)
            w_text = w.cell(row.unit) if w else ("n/a" if row.wayline else "—")
            d_text = d.cell(row.unit) if d else ("n/a" if row.dbos else "—")
            if row.derived is not None:
                top = figure(runs, "wayline", row.derived[0])
                bottom = figure(runs, "wayline", row.derived[1])
                if top and bottom and bottom.median:
                    w = Figure([top.median / bottom.median])
                    w_text = fmt(w.median)
                else:
                    w_text = "n/a"
            out.append(Line(row, w, d, w_text, d_text, ratio_text(row, w, d)))
    return out


HEADERS = ("figure", "unit", "Wayline median [min-max]", "DBOS median [min-max]", "ratio")


def terminal_table(table: list[Line]) -> str:
    cells = [HEADERS] + [
        (x.row.label, x.row.unit, x.wayline_text, x.dbos_text, x.ratio) for x in table
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    rendered = []
    for n, c in enumerate(cells):
        rendered.append(
            "  ".join(
                c[i].ljust(widths[i]) if i in (0, 1, 4) else c[i].rjust(widths[i])
                for i in range(len(HEADERS))
            ).rstrip()
        )
        if n == 0:
            rendered.append("  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def markdown_table(table: list[Line]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|---|---|---:|---:|---|"]
    for x in table:
        out.append(
            f"| {x.row.label} | {x.row.unit} | {x.wayline_text} | {x.dbos_text} | {x.ratio} |"
        )
    return "\n".join(out)


def chart_spec(table: list[Line]) -> dict[str, Any]:
    """The comparable figures for bench/chart.py: two panels by which way is better."""
    panels: dict[str, list[dict[str, Any]]] = {"lower": [], "higher": []}
    for x in table:
        if x.row.chart and x.row.better and x.wayline and x.dbos:
            panels[x.row.better].append(
                {
                    "label": f"{x.row.label} ({x.row.unit})",
                    "wayline": x.wayline.to_json(),
                    "dbos": x.dbos.to_json(),
                }
            )
    return {
        "panels": [
            {"title": "time or cost: lower is better", "rows": panels["lower"]},
            {"title": "throughput: higher is better", "rows": panels["higher"]},
        ]
    }
