"""Draw docs/performance.png: grouped bars (Wayline, DBOS) of the comparable figures.

    .bench-cache/chart-venv/bin/python bench/chart.py spec.json out.png

Runs in the cached matplotlib venv. ``spec.json`` comes from ``report.chart_spec``:
panels of rows, each with both sides' median, min and max. Bars are medians,
whiskers the min-max spread; an axis whose values span more than 20x is
logarithmic.
"""

from __future__ import annotations

import json
import sys
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"wayline": "#2b6cb0", "dbos": "#dd6b20"}


def label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def draw(spec: dict[str, Any], out: str) -> None:
    panels = [p for p in spec["panels"] if p["rows"]]
    heights = [max(2.0, 0.55 * len(p["rows"]) + 1.2) for p in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    if len(panels) == 1:
        axes = [axes]
    for ax, panel in zip(axes, panels, strict=True):
        rows = panel["rows"][::-1]  # first row on top
        ys = range(len(rows))
        values = []
        for offset, side in ((0.2, "wayline"), (-0.2, "dbos")):
            med = [r[side]["median"] for r in rows]
            low = [r[side]["median"] - r[side]["min"] for r in rows]
            high = [r[side]["max"] - r[side]["median"] for r in rows]
            values += [r[side]["min"] for r in rows] + [r[side]["max"] for r in rows]
            ax.barh(
                [y + offset for y in ys],
                med,
                height=0.38,
                color=COLORS[side],
                xerr=[low, high],
                capsize=2,
                label="Wayline" if side == "wayline" else "DBOS",
            )
            for y, m, top in zip(ys, med, [r[side]["max"] for r in rows], strict=True):
                ax.annotate(
                    label(m),
                    (top, y + offset),
                    va="center",
                    fontsize=7,
                    xytext=(2, 0),
                    textcoords="offset points",
                )
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_xscale("log")
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
        ax.set_title(panel["title"], fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    title = textwrap.fill(spec.get("title", "Wayline vs DBOS"), 110)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        draw(json.load(f), sys.argv[2])
