"""``launch.py bench serial-formats``: decode throughput per serial format and pty -> read() latency."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.bench.serial_formats import run_serial_formats


@click.command("serial-formats")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the results to this JSON file.")
@click.option("--samples", type=click.IntRange(1000, 1_000_000), default=20000, show_default=True,
              help="Samples per throughput measurement.")
def serial_formats(json_path: str | None, samples: int) -> None:
    """Decode throughput of each serial format and pty -> read() latency (writes JSON)."""
    results = run_serial_formats(samples)
    for fmt, row in results["formats"].items():
        click.echo(f"{fmt:10s} one/read {row['samples_per_s_one_per_read']:10.0f}/s  ten/read "
                   f"{row['samples_per_s_ten_per_read']:10.0f}/s  bulk {row['samples_per_s_bulk']:10.0f}/s  "
                   f"UART max {row['max_rate_hz_115200_baud']:.0f} Hz @115200, "
                   f"{row['max_rate_hz_921600_baud']:.0f} Hz @921600")
    lat = results["pty_latency_binary_1khz"]
    click.echo(f"pty -> SerialImu.read() at 1 kHz: median {lat['median_ms']:.2f} ms, p95 {lat['p95_ms']:.2f} ms, "
               f"p99 {lat['p99_ms']:.2f} ms")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))
        click.echo(f"wrote {json_path}")
