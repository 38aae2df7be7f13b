"""``launch.py bench worker imu|sim|consumer``: the processes of a latency session (hidden commands).

:mod:`realtime.app.bench.session` starts them (through
:func:`realtime.core.launcher.cli_command`) and talks to them on their standard
streams; the bodies are in :mod:`realtime.app.bench.workers`.
"""

from __future__ import annotations

from pathlib import Path

import click

from realtime.app.bench.workers import WorkerError, run_consumer, run_imu, run_probe, run_sim
from realtime.core.priority import PRIORITIES

_priority = click.option("--priority", type=click.Choice(PRIORITIES), default="auto", show_default=True,
                         help="Scheduling of the worker (as launch.py run --priority).")


@click.group("worker", hidden=True)
def worker() -> None:
    """The processes of a latency session (started by bench latency and bench soak)."""


@worker.command("imu")
@_priority
@click.option("--kind", type=click.Choice(["lsl", "serial"]), required=True)
@click.option("--prefix", required=True)
@click.option("--rate", type=float, default=1000.0, show_default=True)
@click.option("--seed", type=int, default=0)
@click.option("--max-duration", type=float, default=3600.0, show_default=True,
              help="Seconds after which the worker stops by itself.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def imu(priority: str, kind: str, prefix: str, rate: float, seed: int, max_duration: float, out: Path) -> None:
    """An IMU device (the synthetic arm, precomputed) on LSL or on a pseudo-terminal."""
    run_imu(kind, prefix, rate, seed, max_duration, out, priority)


@worker.command("sim")
@_priority
@click.option("--prefix", required=True)
@click.option("--layout", default="armband8", show_default=True)
@click.option("--fs", type=float, default=2000.0, show_default=True)
@click.option("--block", "block_size", type=int, default=2, show_default=True)
@click.option("--source", "source_kind", type=click.Choice(["lsl", "serial"]), required=True)
@click.option("--device", required=True, help="LSL stream name (lsl) or port (serial) of the IMU.")
@click.option("--imu-rate", type=float, default=1000.0, show_default=True)
@click.option("--units", "units_per_muscle", type=int, default=100, show_default=True)
@click.option("--grid-only", is_flag=True, help="The network stage without provisional rows (model-grid rows only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def sim(priority: str, prefix: str, layout: str, fs: float, block_size: int, source_kind: str, device: str, imu_rate: float,
        units_per_muscle: int, grid_only: bool, out: Path) -> None:
    """The simulator, publishing on LSL until ``stop``; writes the runner's counters."""
    try:
        run_sim(prefix, layout, fs, block_size, source_kind, device, imu_rate, units_per_muscle, grid_only, out,
                priority)
    except WorkerError as err:
        raise click.ClickException(str(err)) from None


@worker.command("consumer")
@_priority
@click.option("--prefix", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--resolve-timeout", type=float, default=120.0, show_default=True)
def consumer(priority: str, prefix: str, out: Path, resolve_timeout: float) -> None:
    """Record the arrival time of every EMG sample, and the provenance and status rows."""
    try:
        run_consumer(prefix, out, resolve_timeout, priority)
    except WorkerError as err:
        raise click.ClickException(str(err)) from None


@worker.command("probe")
@_priority
@click.option("--period", type=click.FloatRange(1e-4, 1.0), default=1e-3, show_default=True,
              help="Seconds between two wake-ups.")
@click.option("--max-duration", type=float, default=3600.0, show_default=True,
              help="Seconds after which the worker stops recording.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def probe(priority: str, period: float, max_duration: float, out: Path) -> None:
    """A thread that only sleeps and wakes, scheduled as the runner: the machine's own stalls."""
    run_probe(out, period, priority, max_duration)
