"""Markdown tables and PNG plots (matplotlib, Agg backend) for ``bench latency`` and ``bench soak``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from realtime.app.bench.latency import row_label

if TYPE_CHECKING:
    from realtime.app.bench.latency import ConfigResult

BREAKDOWN: tuple[tuple[str, str], ...] = (
    ("row_wait", "wait for a row"),
    ("imu_transport_and_tick_wait", "IMU transport + tick wait"),
    ("source_read", "source read"),
    ("model", "model"),
    ("resampling", "resampling"),
    ("engine", "engine"),
    ("post", "post stages"),
    ("push", "push"),
    ("transport", "EMG transport"),
)
"""Stage-breakdown keys (``stages_ms``) in path order, with their labels."""


def _pyplot():
    import matplotlib  # deferred: matplotlib (~1 s) only to draw the report's plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after the Agg backend is chosen

    return plt


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _label(row: dict) -> str:
    mode = "" if row.get("provisional", True) else " grid-only"
    stress = f" stress {row['stress']}" if row.get("stress") else ""
    return f"{row['source']} {row['layout']} {row['fs']:g} Hz b{row['block']}{mode}{stress}"


HOP_LABELS = {"row_wait": "wait for a row", "imu_transport_and_tick_wait": "IMU transport + tick wait",
              "processing": "runner (read to push, catch-up included)", "emg_transport": "EMG transport"}
"""Labels of the tail hops (``realtime.app.bench.analysis.HOPS``)."""


def latency_markdown(document: dict, command: str) -> str:
    """The ``latency.md`` report: results table, stage breakdown, targets and where the time goes."""
    rows = document["configs"]
    m = document["machine"]["start"]
    lines = [
        "# myostream end-to-end latency",
        "",
        f"Command: `{command}`  ",
        f"Machine: {m['host']}, {m['platform']}, {m['cpu_count']} CPUs, load average {m['load_avg']} at the start, "
        f"{document['machine']['end']['load_avg']} at the end ({m['date']}).",
        "",
        "**Latency** of an IMU sample: from its creation (LSL: the timestamp pushed with it, taken right before "
        "the push; serial: the fake device's sample clock) to the arrival at the consumer of the first EMG block "
        "that includes it (provenance `imu_seq >= k`, see `docs/streams.md`). The network runs on a 100 Hz "
        "grid; with provisional rows (the default) the newest IMU sample of every read gets a row at once "
        "(the network peeked at that sample's time), without them (*grid-only*) a sample is included only once "
        "an IMU sample completes the next grid point. **Row** latency is the latency of the samples that have "
        "a row of their own (the ones provenance names), i.e. without the wait for a row. Percentiles over "
        "every IMU sample after the warm-up.",
        "",
        "| config | p50 ms | p90 ms | p99 ms | max ms | row p50 ms | row p99 ms | lost | rate error ppm "
        "| grid error µs | late ticks | late % | tail hop | IMU ts residual ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {_label(r)} | {_fmt(r['p50_ms'])} | {_fmt(r['p90_ms'])} | {_fmt(r['p99_ms'])} | {_fmt(r['max_ms'])} "
            f"| {_fmt(r['row_p50_ms'])} | {_fmt(r['row_p99_ms'])} | {r['lost_samples']} "
            f"| {_fmt(r['rate_error_ppm'], 1)} | {_fmt(r['timestamp_grid_error_us'], 3)} | {r['late_ticks']} "
            f"| {_fmt(r.get('late_ticks_percent', float('nan')), 3)} "
            f"| {HOP_LABELS.get(r.get('tail_hop', ''), '–')} | {_fmt(r['imu_timestamp_residual_ms'], 3)} |"
        )
    lines += [
        "",
        "## Conditions and scheduling",
        "",
        "*quiet*: the machine as it is (other programs may run: load average per session below); *stress N*: "
        "N busy processes at normal priority compete for the CPUs during the session. Every process is "
        "scheduled as `launch.py run --priority` schedules the simulator "
        f"(`--priority {document.get('priority', 'auto')}`); what each got. The *floor* is a fourth process: a "
        "thread scheduled as the runner that only sleeps one tick period; its stalls are the machine's own "
        "(hypervisor, kernel, other real-time programs), a lower bound for the runner's.",
        "",
        "| config | scheduling | load (1 min) | other real-time threads | tail: mean of each hop over the "
        "samples ≥ p99, ms |",
        "|---|---|---:|---:|---|",
    ]
    for r in rows:
        m = r.get("machine") or {}
        tail = r.get("tail_ms") or {}
        hops = ", ".join(f"{HOP_LABELS.get(k, k)} {_fmt(v)}" for k, v in tail.items())
        fl = r.get("floor") or {}
        lines.append(f"| {_label(r)} | {r.get('policy', '–')} | {_fmt(m.get('load_avg_1min'))} "
                     f"| {m.get('other_realtime_threads', '–')} | {fl.get('stalls_over_1ms', '–')}, "
                     f"{_fmt(fl.get('max_ms'))} | {hops or '–'} |")
    lines += [
        "",
        "## Stage breakdown (ms)",
        "",
        "Medians of the intervals along the path of a sample (wait for a row: creation of the sample to creation "
        "of the sample whose row first includes it; IMU transport + wait for the runner's next tick; EMG "
        "transport = push to arrival) and the runner's mean time per tick in each stage "
        "(source read ... push). They add up to about the p50 latency, not exactly (medians and means of "
        "different things).",
        "",
        "| config | " + " | ".join(label for _, label in BREAKDOWN) + " | p50 |",
        "|---|" + "---:|" * (len(BREAKDOWN) + 1),
    ]
    for r in rows:
        st = r["stages_ms"]
        lines.append(f"| {_label(r)} | " + " | ".join(_fmt(st.get(k, float("nan")), 3) for k, _ in BREAKDOWN)
                     + f" | {_fmt(r['p50_ms'])} |")
    lines += ["", "## Targets", ""]
    t = document["targets"]
    late_target = t.get("late_ticks_percent")
    lines.append(f"At {t['fs']:g} Hz, block ≤ {t['max_block']}, {t['source']} source, in every condition: p50 ≤ "
                 f"{t['p50_ms']:g} ms, p99 ≤ {t['p99_ms']:g} ms"
                 + (f" and late ticks ≤ {late_target:g} % of the ticks." if late_target is not None else "."))
    lines.append("")
    if not t["met"]:
        lines.append("No target configuration was run.")
    for key, ok in t["met"].items():
        r = next(r for r in rows if row_label(r) == key)
        row_ok = r["row_p50_ms"] <= t["p50_ms"] and r["row_p99_ms"] <= t["p99_ms"]
        lines.append(
            f"- {key}: every sample p50 {_fmt(r['p50_ms'])} / p99 {_fmt(r['p99_ms'])} ms, late ticks "
            f"{_fmt(r.get('late_ticks_percent', float('nan')), 3)} %: "
            f"**{'met' if ok else 'not met'}**; samples with a row of their own p50 {_fmt(r['row_p50_ms'])} / "
            f"p99 {_fmt(r['row_p99_ms'])} ms: **{'met' if row_ok else 'not met'}**."
        )
    ranges, residual_ok = t.get("imu_timestamp_residual_ms"), t.get("residual_met", {})
    if ranges:
        lines += ["", "IMU timestamp residual (the simulator's IMU timestamp minus the device's creation time): "
                  + ", ".join(f"{source} {lo:g} to {hi:g} ms" for source, (lo, hi) in ranges.items()) + "."]
        lines.append("")
        for r in rows:
            ok = residual_ok.get(row_label(r))
            lines.append(f"- {row_label(r)}: {_fmt(r['imu_timestamp_residual_ms'], 3)} ms: "
                         f"**{'met' if ok else 'not met'}**.")
    lines += ["", "## Where the latency goes", ""]
    lines += where_it_goes(rows)
    return "\n".join(lines) + "\n"


def where_it_goes(rows: Sequence[dict]) -> list[str]:
    """Sentences explaining each target-like configuration's p50 from its breakdown, and the floor."""
    out = []
    for r in rows:
        st = r["stages_ms"]
        period = 1e3 / r["fs"]
        hops = 2.0 * st.get("transport", float("nan"))
        floor = period + hops
        processing = sum(st.get(k, 0.0) for k in ("source_read", "model", "resampling", "engine", "post", "push"))
        out.append(
            f"- {_label(r)}: p50 {_fmt(r['p50_ms'])} ms ≈ wait for a row {_fmt(st['row_wait'])} + IMU "
            f"transport and tick wait {_fmt(st['imu_transport_and_tick_wait'])} + processing "
            f"{_fmt(processing)} (per tick, means) + EMG transport {_fmt(st['transport'])}. Samples with a "
            f"row of their own: p50 {_fmt(r['row_p50_ms'])} ms. Floor: one sample period {_fmt(period)} + two LSL hops "
            f"≈ {_fmt(hops)} = {_fmt(floor)} ms (fastest sample seen: {_fmt(r['min_ms'])} ms)."
        )
    out += [
        "",
        "The network runs on a 100 Hz grid. Grid-only, an IMU sample is part of the EMG only after the IMU "
        "sample that completes the next grid point has arrived (up to 10 ms later, 5 ms on average at a 1 kHz "
        "IMU), and that wait dominates. With provisional rows the newest sample of every read has its row in the "
        "same tick, so the time goes to waiting for the runner's next tick (up to one block period), the "
        "per-tick work and two LSL hops. The anti-alias filter in front of the network adds a signal delay "
        "(group delay about 2 / (2π · 25 Hz) ≈ 12.7 ms for slow movements) that no sample-inclusion latency "
        "shows.",
    ]
    return out


def latency_plots(results: Sequence[ConfigResult], report_dir: Path) -> list[Path]:
    """``latency_cdf.png`` (one curve per configuration) and ``stage_breakdown.png``; return their paths."""
    plt = _pyplot()
    report_dir = Path(report_dir)
    groups: dict[tuple[str, float], list[ConfigResult]] = {}
    for res in results:
        groups.setdefault((res.config.source, res.config.fs), []).append(res)
    n = len(groups)
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 4.6), squeeze=False, sharey=True)
    for ax, ((source, fs), group) in zip(axes[0], sorted(groups.items())):
        cmap = plt.get_cmap("tab10")
        for i, res in enumerate(group):
            color = cmap(i % 10)
            label = (f"{res.config.layout} block {res.config.block}{'' if res.config.provisional else ' grid-only'}"
                     f"{f' stress {res.config.stress}' if res.config.stress else ''}")
            for values, style, suffix in ((res.figures.latency_ms, "-", "every sample"),
                                          (res.figures.row_latency_ms, "--", "own row")):
                if values.size:
                    x = np.sort(values)
                    y = np.arange(1, x.size + 1) / x.size
                    ax.plot(x, y, style, color=color, lw=1.4, label=f"{label}, {suffix}")
        ax.axvline(2.0, color="0.5", lw=0.8, ls=":")
        ax.axvline(5.0, color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("latency, IMU sample creation → EMG arrival (ms)")
        ax.set_title(f"{source} source, EMG {fs:g} Hz")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("fraction of IMU samples")
    fig.suptitle("Latency CDF per configuration (dotted: 2 ms and 5 ms targets)")
    fig.tight_layout()
    cdf = report_dir / "latency_cdf.png"
    fig.savefig(cdf, dpi=110)
    plt.close(fig)

    labels = [_label({"source": r.config.source, "layout": r.config.layout, "fs": r.config.fs,
                      "block": r.config.block, "provisional": r.config.provisional, "stress": r.config.stress})
              for r in results]
    fig, ax = plt.subplots(figsize=(10, 2.2 + 0.45 * len(results)))
    left = np.zeros(len(results))
    cmap = plt.get_cmap("tab10")
    for j, (key, name) in enumerate(BREAKDOWN):
        widths = np.array([r.figures.summary["stages_ms"].get(key, 0.0) for r in results], float)
        widths = np.nan_to_num(widths)
        ax.barh(labels, widths, left=left, color=cmap(j % 10), label=name)
        left += widths
    p50 = np.array([r.figures.summary["p50_ms"] for r in results])
    row50 = np.array([r.figures.summary["row_p50_ms"] for r in results])
    ax.scatter(p50, labels, marker="|", s=300, color="k", zorder=3, label="p50, every sample")
    ax.scatter(row50, labels, marker="|", s=300, color="r", zorder=3, label="p50, samples with their own row")
    ax.set_xlabel("ms")
    ax.invert_yaxis()
    ax.set_title("Stage breakdown (medians of path intervals, per-tick means of runner stages)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    bars = report_dir / "stage_breakdown.png"
    fig.savefig(bars, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [cdf, bars]


def write_latency_report(document: dict, results: Sequence[ConfigResult], report_dir: Path,
                         command: str) -> list[Path]:
    """Write ``latency.md``, ``latency_cdf.png`` and ``stage_breakdown.png`` into ``report_dir``."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    md = report_dir / "latency.md"
    md.write_text(latency_markdown(document, command))
    return [md, *latency_plots(results, report_dir)]


def soak_markdown(document: dict, command: str) -> str:
    """The ``soak.md`` report."""
    s = document["soak"]
    t = document["targets"]
    m = document["machine"]["start"]
    check = {k: ("met" if v else "not met") for k, v in document["targets"]["met"].items()}
    lines = [
        "# myostream soak",
        "",
        f"Command: `{command}`  ",
        f"Machine: {m['host']}, {m['cpu_count']} CPUs, load average {m['load_avg']} at the start, "
        f"{document['machine']['end']['load_avg']} at the end ({m['date']}).  ",
        f"Configuration: {s['source']} source, {s['layout']}, {s['fs']:g} Hz, block {s['block']}, "
        f"{s['duration_s']:g} s.",
        "",
        "| figure | value | target |",
        "|---|---:|---|",
        f"| rate error (whole run) | {_fmt(s['rate_error_ppm'], 1)} ppm = {_fmt(s['rate_error_ppm'] / 1e4, 5)} % "
        f"| ≤ {t['rate_error_percent']:g} % ({check['rate']}) |",
        f"| largest window rate error | {_fmt(s['window_rate_error_max_ppm'], 1)} ppm | |",
        f"| lost EMG samples | {s['lost_samples']} | {t['lost_samples']} ({check['lost']}) |",
        f"| late ticks (after warm-up) | {s['late_ticks']} | |",
        f"| resident memory, after warm-up → end | {_fmt(s['rss_start_mb'], 1)} → {_fmt(s['rss_end_mb'], 1)} MB "
        f"| |",
        f"| resident memory growth | {_fmt(s['rss_growth_mb'], 2)} MB ({_fmt(s['rss_slope_mb_per_h'], 2)} MB/h) "
        f"| ≤ {t['rss_growth_mb']:g} MB ({check['rss']}) |",
        f"| timestamp grid error | {_fmt(s['timestamp_grid_error_us'], 3)} µs | |",
        f"| latency p50 / p99 (every sample) | {_fmt(s['p50_ms'])} / {_fmt(s['p99_ms'])} ms | |",
        "",
        "Rate error: drift of the least delayed EMG arrivals against the sample grid (positive = more samples "
        "than fs per second of the consumer's clock); per window in `soak.png`. Memory: the simulator process's "
        "VmRSS, growth measured from the end of the warm-up.",
    ]
    return "\n".join(lines) + "\n"


def soak_plot(document: dict, report_dir: Path) -> Path:
    """``soak.png``: arrival drift, rate error per window, late ticks and lost samples, resident memory."""
    plt = _pyplot()
    series = document["series"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    ax = axes[0][0]
    ax.plot(series["drift_t"], series["drift_ms"], lw=1)
    ax.set_ylabel("least arrival delay vs grid (ms)")
    ax.set_title("Arrival drift (slope = rate error)")
    ax = axes[0][1]
    ax.plot(series["window_t"], series["window_rate_ppm"], marker=".", lw=1)
    ax.axhline(100.0, color="0.5", ls=":", lw=0.8)
    ax.axhline(-100.0, color="0.5", ls=":", lw=0.8)
    ax.set_ylabel("rate error per window (ppm)")
    ax.set_title("Rate error per window (dotted: ±0.01 %)")
    ax = axes[1][0]
    ax.plot(series["status_t"], series["late_ticks"], lw=1, label="late ticks (cumulative)")
    ax.plot(series["lost_t"], series["lost"], lw=1, label="lost EMG samples (cumulative)")
    ax.set_ylabel("count")
    ax.set_xlabel("time since start (s)")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    ax.plot(series["rss_t"], series["rss_mb"], lw=1)
    ax.set_ylabel("simulator resident memory (MB)")
    ax.set_xlabel("time since start (s)")
    for a in axes.flat:
        a.grid(True, alpha=0.3)
    fig.suptitle("Soak: rate drift, late ticks, lost samples, memory")
    fig.tight_layout()
    path = Path(report_dir) / "soak.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_soak_report(document: dict, report_dir: Path, command: str) -> list[Path]:
    """Write ``soak.md`` and ``soak.png`` into ``report_dir``."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    md = report_dir / "soak.md"
    md.write_text(soak_markdown(document, command))
    return [md, soak_plot(document, report_dir)]
