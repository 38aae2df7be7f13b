"""``launch.py bench viewer``: the viewer's frame rate and its effect on the simulator's late ticks."""

from __future__ import annotations

import click

from realtime.app.bench.viewer import run_benchmark


@click.command("viewer")
@click.option(
    "--json",
    "json_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the results here.",
)
@click.option(
    "--seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Rendering time per configuration.",
)
@click.option(
    "--phase-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=2.0),
    help="Counted window per late-tick condition in each simulator run.",
)
@click.option(
    "--channels",
    "channels",
    multiple=True,
    type=int,
    default=(8, 64),
    show_default=True,
    help="Channel counts to run.",
)
@click.option(
    "--screenshot-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also save one PNG per configuration here.",
)
@click.option(
    "--repeats",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Simulator runs per channel count, each counting the conditions (alone, bare inlet, viewer) in rotating order.",
)
@click.option(
    "--pinned",
    is_flag=True,
    help="Also measure the viewer pinned to the last CPU (a fourth condition).",
)
def viewer(
    json_path: str,
    seconds: float,
    phase_seconds: float,
    channels: tuple[int, ...],
    screenshot_dir: str | None,
    repeats: int,
    pinned: bool,
) -> None:
    """Viewer frame rate (offscreen, 4 s window, 2 kHz) and its effect on the simulator's late ticks."""
    result = run_benchmark(
        json_path,
        channels=channels,
        seconds=seconds,
        phase_seconds=phase_seconds,
        screenshot_dir=screenshot_dir,
        repeats=repeats,
        pinned=pinned,
    )
    for r in result["runs"]:
        late = r["late_ticks_delta"]
        if late is None:
            late_txt = "n/a"
        else:
            med = r["late_ticks_median"]
            p = r["late_ticks_p_one_sided"]
            late_txt = (
                f"{late:+g} (medians alone {med['none']:g}, inlet {med['inlet']:g}, "
                f"viewer {med['viewer']:g}; one-sided p = {'n/a' if p is None else f'{p:.3g}'}, "
                f"raises: {r['viewer_raises_late_ticks']})"
            )
        cpu = r.get("viewer_cpu_percent")
        cpu_txt = "" if cpu is None else f", viewer CPU {cpu:.0f} %"
        click.echo(
            f"{r['channels']:3d} ch  {r['window_s']:g} s  {r['fs']:g} Hz: {r['fps']:.1f} fps, "
            f"late ticks delta {late_txt}{cpu_txt}"
        )
        pin = r.get("pinned_viewer")
        if pin is not None:
            click.echo(
                f"      pinned viewer: median {pin['median']:g} ({pin['delta_vs_unpinned']:+g} vs unpinned, "
                f"p = {pin['p_one_sided_pinning_helps']})"
            )
    click.echo(f"wrote {json_path}")
