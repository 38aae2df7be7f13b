"""``launch.py bench latency`` and ``launch.py bench soak``: end-to-end measurements in separate processes."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click
from tqdm import tqdm

from realtime.app.bench import latency as lat
from realtime.app.bench.report import write_latency_report, write_soak_report
from realtime.app.bench.session import SessionConfig, SessionError
from realtime.app.bench.soak import run_soak
from realtime.app.bench.stress import default_stress
from realtime.core.priority import PRIORITIES
from realtime.stages.engine import LAYOUTS

FS_CHOICES = ("1000", "2000")
SOURCE_CHOICES = ("lsl", "serial")


def _layouts(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        if name not in LAYOUTS:
            raise click.BadParameter(f"{name!r} is not a known layout; allowed: {', '.join(LAYOUTS)}.")
    return value


def _command_line() -> str:
    return "python launch.py " + " ".join(sys.argv[1:]) if sys.argv else "python launch.py bench"


def _write_json(path: Path | None, document: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=True))
    click.echo(f"wrote {path}")


def _ms(value: float) -> str:
    return f"{value:6.2f}" if math.isfinite(value) else "   nan"


@click.command()
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the results (JSON: {\"configs\": [...]}).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for latency.md and the PNG plots (latency CDFs, stage breakdown).")
@click.option("--quick", is_flag=True,
              help="Only the target configurations: 2 kHz, block 2, armband8 and grid64, LSL source, 20 s each.")
@click.option("--duration", type=click.FloatRange(min=4.0), default=None,
              help="Seconds of IMU per configuration, warm-up included  [default: 20 with --quick, else 15].")
@click.option("--fs", "fs_list", type=click.Choice(FS_CHOICES), multiple=True,
              help="Only these EMG rates (repeat the option for several).")
@click.option("--block", "block_list", type=click.IntRange(1, 200), multiple=True,
              help="Only these block lengths in samples (repeatable; default sweep 1 2 5 10 20).")
@click.option("--layout", "layout_list", multiple=True, callback=_layouts,
              help="Only these layouts (repeatable; default armband8 and grid64).")
@click.option("--source", "source_list", type=click.Choice(SOURCE_CHOICES), multiple=True,
              help="Only these IMU links (repeatable): lsl (an LSL outlet process) or serial (fake-imu on a pty).")
@click.option("--imu-rate", type=click.FloatRange(50.0, 1000.0), default=1000.0, show_default=True,
              help="IMU samples per second.")
@click.option("--warmup", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              help="Seconds at the start of each configuration left out of the figures.")
@click.option("--units", "units_per_muscle", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Motor units per muscle.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the workers' records and logs here (default: a temporary folder).")
@click.option("--stress", type=click.IntRange(min=0), default=None,
              help="Also run every configuration with this many busy competing processes (0 = off)  "
                   "[default: one per CPU].")
@click.option("--priority", type=click.Choice(PRIORITIES), default="auto", show_default=True,
              help="Scheduling of the simulator, the IMU device and the consumer, as launch.py run --priority: "
                   "real-time when allowed (auto), required (realtime), or never (normal).")
def latency(json_path: Path, report_dir: Path | None, quick: bool, duration: float | None,
            fs_list: tuple[str, ...], block_list: tuple[int, ...], layout_list: tuple[str, ...],
            source_list: tuple[str, ...], imu_rate: float, warmup: float, units_per_muscle: int,
            workdir: Path | None, stress: int | None, priority: str) -> None:
    """End-to-end latency: IMU process -> simulator process -> consumer process, per configuration.

    Sweeps fs 1000/2000, block 1/2/5/10/20, armband8/grid64 and the lsl/serial
    IMU link (the options narrow it), each on the machine as it is and then with
    --stress busy processes. Measures, per IMU sample, the time from its
    creation to the arrival of the first EMG block that includes it, plus the
    stage breakdown, the hop that holds the tail, rate error, timestamp grid
    error, lost samples and late ticks, and says which scheduling each process got.
    """
    base = lat.QUICK if quick else {"fs": lat.SWEEP_FS, "block": lat.SWEEP_BLOCKS, "layout": lat.SWEEP_LAYOUTS,
                                    "source": lat.SWEEP_SOURCES}
    seconds = duration if duration is not None else (20.0 if quick else 15.0)
    if seconds <= warmup + 1.0:
        raise click.BadParameter(f"must exceed --warmup ({warmup:g} s) by more than 1 s; {seconds:g} is invalid.",
                                 param_hint="'--duration'")
    n_stress = default_stress() if stress is None else stress
    try:
        configs = lat.sweep_configs(
            fs=[float(f) for f in fs_list] or base["fs"], blocks=block_list or base["block"],
            layouts=layout_list or base["layout"], sources=source_list or base["source"], duration=seconds,
            warmup=warmup, imu_rate=imu_rate, units_per_muscle=units_per_muscle,
            stress=lat.stress_conditions(n_stress), priority=priority)
    except (TypeError, ValueError) as err:
        raise click.UsageError(str(err)) from err
    conditions = "quiet" + (f" and with {n_stress} busy processes" if n_stress else "")
    click.echo(f"bench latency: {len(configs)} session(s) ({conditions}), {seconds:g} s each "
               f"(plus ~10 s to start the three processes); priority {priority}.")
    policies: list[str] = []
    bar: list = []

    def on_start(i: int, cfg: object) -> None:
        if bar:
            bar[0].close()
            bar.clear()
        bar.append(tqdm(total=round(seconds), desc=f"[{i + 1}/{len(configs)}] {cfg.label}", unit="s",
                        bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s", leave=False))

    def on_progress(elapsed: float) -> None:
        if bar:
            bar[0].n = min(round(elapsed), bar[0].total)
            bar[0].refresh()

    def on_done(i: int, cfg: object, row: dict) -> None:
        if not policies or policies[-1] != row["policy"]:
            policies.append(row["policy"])
            tqdm.write(f"scheduling ({priority}): {row['policy']}")
        tqdm.write(
            f"[{i + 1}/{len(configs)}] {cfg.label:<43} p50 {_ms(row['p50_ms'])} p90 {_ms(row['p90_ms'])} "
            f"p99 {_ms(row['p99_ms'])} max {_ms(row['max_ms'])} ms | row p50 {_ms(row['row_p50_ms'])} ms | "
            f"lost {row['lost_samples']} | rate {row['rate_error_ppm']:+.1f} ppm | "
            f"late {row['late_ticks']} ({row['late_ticks_percent']:.3f} %) | tail: {row['tail_hop'] or '-'} | "
            f"floor: {row['floor']['stalls_over_1ms']} stalls > 1 ms, max {_ms(row['floor']['max_ms'])} ms"
        )

    try:
        document, results = lat.run_latency_bench(configs, workdir, on_start, on_progress, on_done)
    except SessionError as err:
        raise click.ClickException(str(err)) from err
    finally:
        if bar:
            bar[0].close()
    document["command"] = _command_line()
    _write_json(json_path, document)
    if report_dir is not None:
        for path in write_latency_report(document, results, report_dir, document["command"]):
            click.echo(f"wrote {path}")
    t = document["targets"]
    for key, ok in t["met"].items():
        click.echo(f"target p50 <= {t['p50_ms']:g} ms, p99 <= {t['p99_ms']:g} ms, late ticks <= "
                   f"{t['late_ticks_percent']:g} % at {key}: {'met' if ok else 'NOT met'} (every IMU sample)")
    ranges = document["targets"]["imu_timestamp_residual_ms"]
    for row in document["configs"]:
        lo, hi = ranges[row["source"]]
        ok = document["targets"]["residual_met"][lat.row_label(row)]
        click.echo(f"target IMU timestamp residual {lo:g} to {hi:g} ms at {lat.row_label(row)}: "
                   f"{'met' if ok else 'NOT met'} ({row['imu_timestamp_residual_ms']:.3f} ms)")


@click.command()
@click.option("--duration", type=click.FloatRange(min=10.0), default=600.0, show_default=True,
              help="Seconds to run.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the results (JSON).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for soak.md and soak.png.")
@click.option("--layout", default="armband8", show_default=True, callback=lambda c, p, v: _layouts(c, p, (v,))[0],
              help="Electrode layout.")
@click.option("--fs", type=click.Choice(FS_CHOICES), default="2000", show_default=True, help="EMG rate in Hz.")
@click.option("--block", "block_size", type=click.IntRange(1, 200), default=2, show_default=True,
              help="EMG samples per block.")
@click.option("--source", type=click.Choice(SOURCE_CHOICES), default="lsl", show_default=True, help="IMU link.")
@click.option("--imu-rate", type=click.FloatRange(50.0, 1000.0), default=1000.0, show_default=True,
              help="IMU samples per second.")
@click.option("--warmup", type=click.FloatRange(min=0.0), default=None,
              help="Seconds left out at the start  [default: duration / 20, at most 30].")
@click.option("--units", "units_per_muscle", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Motor units per muscle.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the workers' records and logs here (default: a temporary folder).")
def soak(duration: float, json_path: Path | None, report_dir: Path | None, layout: str, fs: str, block_size: int,
         source: str, imu_rate: float, warmup: float | None, units_per_muscle: int, workdir: Path | None) -> None:
    """Long run: rate drift, lost samples, late ticks and simulator memory over time."""
    warm = warmup if warmup is not None else min(duration / 20.0, 30.0)
    try:
        config = SessionConfig(fs=float(fs), block=block_size, layout=layout, source=source, imu_rate=imu_rate,
                               duration=duration, warmup=warm, units_per_muscle=units_per_muscle)
    except (TypeError, ValueError) as err:
        raise click.UsageError(str(err)) from err
    click.echo(f"bench soak: {config.label}, {duration:g} s (plus ~10 s to start the three processes).")
    with tqdm(total=round(duration), desc="soak", unit="s", bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s") as bar:
        def on_progress(elapsed: float) -> None:
            bar.n = min(round(elapsed), bar.total)
            bar.refresh()

        try:
            document = run_soak(config, workdir, on_progress)
        except SessionError as err:
            raise click.ClickException(str(err)) from err
    document["command"] = _command_line()
    s, met = document["soak"], document["targets"]["met"]
    click.echo(
        f"rate error {s['rate_error_ppm']:+.1f} ppm ({'met' if met['rate'] else 'NOT met'}), "
        f"lost {s['lost_samples']} ({'met' if met['lost'] else 'NOT met'}), late ticks {s['late_ticks']}, "
        f"memory {s['rss_start_mb']:.1f} -> {s['rss_end_mb']:.1f} MB, growth {s['rss_growth_mb']:+.2f} MB "
        f"({'met' if met['rss'] else 'NOT met'})"
    )
    _write_json(json_path, document)
    if report_dir is not None:
        for path in write_soak_report(document, report_dir, document["command"]):
            click.echo(f"wrote {path}")
