"""PNG chart of a rehearsal: traffic split by version and error rate over time, with markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; must precede pyplot

import matplotlib.pyplot as plt

from ..contract import other_color
from .scenario import RehearsalResult

VERSION_COLORS = {"v1": "#4C72B0", "v2": "#55A868", "v3": "#C44E52", "none": "#999999"}
SYNTHETIC_COLOR = "#DD8452"  # the driver's synthetic bake and probes


def _bins(result: RehearsalResult, width: float) -> tuple[list[float], dict[str, list[float]], list[float]]:
    """Per bin: centre (s since start), share per version (%), error rate (%)."""
    t0 = result.started_at
    n = max(1, int((result.ended_at - t0) / width) + 1)
    counts: list[dict[str, int]] = [{} for _ in range(n)]
    failed = [0] * n
    for r in result.records:
        i = min(n - 1, max(0, int((r.sent_at - t0) / width)))
        key = r.version or "none"
        counts[i][key] = counts[i].get(key, 0) + 1
        failed[i] += r.failed
    versions = sorted({v for c in counts for v in c})
    centres, shares, errors = [], {v: [] for v in versions}, []
    for i, c in enumerate(counts):
        total = sum(c.values())
        if not total:
            continue
        centres.append((i + 0.5) * width)
        for v in versions:
            shares[v].append(100 * c.get(v, 0) / total)
        errors.append(100 * failed[i] / total)
    return centres, shares, errors


CHAOS_COLOR = "#8E44AD"


def _mark_synthetic(ax: Any, result: RehearsalResult) -> None:
    """The driver's own requests, which the bars (user traffic only) leave out: each release's
    synthetic bake shaded and labelled with its counts, and every probe a tick along the bottom."""
    t0 = result.started_at
    for run in result.releases.values():
        first_shift = min((c.at for c in result.weight_history if run.start <= c.at <= run.end), default=run.end)
        bake = [p for p in result.probes if run.start <= p.sent_at <= first_shift]
        if bake:
            start, end = min(p.sent_at for p in bake) - t0, max(p.done_at or p.sent_at for p in bake) - t0
            ax.axvspan(start, max(end, start + 0.2), color=SYNTHETIC_COLOR, alpha=0.18, linewidth=0)
            failed = sum(p.failed for p in bake)
            ax.annotate(
                f"synthetic bake {run.version}: {len(bake)} requests, {failed} failed",
                (start, 50),
                xytext=(2, 0),
                textcoords="offset points",
                color=SYNTHETIC_COLOR,
                fontsize=8,
                rotation=90,
                va="center",
            )
    probes = [p.sent_at - t0 for p in result.probes]
    if probes:
        ax.plot(probes, [1.0] * len(probes), "|", color=SYNTHETIC_COLOR, markersize=6, label="synthetic request")


def write_chart(result: RehearsalResult, path: Path, notes: list[str] | None = None, bin_seconds: float = 1.0) -> Path:
    """Write the PNG; `notes` (key figures) are printed under the title."""
    centres, shares, errors = _bins(result, bin_seconds)
    fig, ax = plt.subplots(figsize=(11, 5.2), dpi=110)
    # Stacked bars, one per time bin: what was really served, without interpolation.
    bottom = [0.0] * len(centres)
    for version, values in shares.items():
        ax.bar(
            centres,
            values,
            width=bin_seconds,
            bottom=bottom,
            label=f"served by {version}",
            color=VERSION_COLORS.get(version, "#8172B2"),
            alpha=0.85,
            linewidth=0,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylim(0, 100)
    ax.set_xlim(0, max(centres[-1] + bin_seconds / 2, 1) if centres else 1)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("share of requests (%)")

    err_ax = ax.twinx()
    err_ax.plot(
        centres, errors, color="black", linewidth=1.6, drawstyle="steps-mid", label="error rate (5xx + no answer)"
    )
    err_ax.set_ylabel("error rate (%)")
    err_ax.set_ylim(0, max(10.0, max(errors, default=0) * 1.2))

    t0 = result.started_at
    for run in result.releases.values():
        stable = run.stable_color
        new = other_color(stable)
        for change in result.weight_history:
            if not run.start <= change.at <= run.end:
                continue
            x = change.at - t0
            percent = change.weights.of(new)
            rolled_back = run.result.state == "ROLLED_BACK" and percent == 0
            if rolled_back:
                ax.axvline(x, color="#C44E52", linewidth=2.2)
                ax.annotate(
                    f"rollback {run.version}",
                    (x, 97),
                    xytext=(4, 0),
                    textcoords="offset points",
                    color="#C44E52",
                    fontsize=9,
                    fontweight="bold",
                    va="top",
                )
            else:
                ax.axvline(x, color="#333333", linestyle="--", linewidth=1)
                ax.annotate(
                    f"{run.version} {percent}%",
                    (x, 3),
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=8,
                    rotation=90,
                    va="bottom",
                )
    _mark_synthetic(ax, result)
    for event in result.chaos:  # `--chaos`: a line where each event hit, its effect shaded, its name
        x = event.at - t0
        ax.axvspan(x, max(x, event.until - t0), color=CHAOS_COLOR, alpha=0.12, linewidth=0)
        ax.axvline(x, color=CHAOS_COLOR, linestyle=":", linewidth=2)
        ax.annotate(
            f"chaos: {event.kind}" + (" (failed)" if event.error else ""),
            (x, 60),
            xytext=(-10, 0),
            textcoords="offset points",
            color=CHAOS_COLOR,
            fontsize=8,
            fontweight="bold",
            rotation=90,
            va="center",
        )
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = err_ax.get_legend_handles_labels()
    fig.legend(handles + h2, labels + l2, loc="lower center", ncol=len(labels) + 1, fontsize=9, frameon=False)
    title = "Local rehearsal: traffic split by version and error rate (HAProxy, live weights)"
    ax.set_title(title + ("\n" + "   ".join(notes) if notes else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
