"""Decode throughput per serial format, and pty-to-read() latency (``launch.py bench serial-formats``).

The command writes a JSON file (``--json PATH``) with, for each format, the samples per second a decoder
handles when fed one sample per read (what a USB-serial reader sees at low rates), ten samples
per read, and a whole recording at once, the largest rate a UART can carry at 115200 and 921600
baud, and the latency from writing a frame into a pty to the sample coming out of
``SerialImu.read()`` at 1 kHz.
"""

from __future__ import annotations

import os
import platform
import time
import tty

import numpy as np

from devices.formats import FORMATS, binary, make_decoder, max_rate_hz, witmotion
from devices.formats.csv_text import format_lines
from devices.serial_imu import SerialImu, SerialSettings


def _encoded(fmt: str, x: np.ndarray) -> tuple[bytes, int]:
    n = x.shape[0]
    if fmt == "binary":
        data = binary.encode_frames(x, np.arange(n), np.arange(n) * 1000)
    elif fmt == "witmotion":
        data = witmotion.encode_frames(x)
    else:
        data = format_lines(x)
    return data, len(data) // n


def decode_throughput(fmt: str, n: int = 20000, samples_per_read: int = 1) -> float:
    """Samples per second decoded when fed ``samples_per_read`` samples' bytes per call (0: all at once)."""
    x = np.random.default_rng(0).normal(size=(n, 6)) * 3.0
    data, per_sample = _encoded(fmt, x)
    chunk = len(data) if samples_per_read == 0 else per_sample * samples_per_read
    dec = make_decoder(fmt)
    t0 = time.perf_counter()
    got = 0
    for i in range(0, len(data), chunk):
        got += dec.feed(data[i:i + chunk]).n_samples
    elapsed = time.perf_counter() - t0
    if got != n:
        raise RuntimeError(f"{fmt}: decoded {got} of {n} samples")
    return n / elapsed


def pty_latency(rate: float = 1000.0, seconds: float = 3.0) -> dict[str, float]:
    """Latency (ms) from writing a binary frame into a pty to the sample leaving ``SerialImu.read()``."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    path = os.ttyname(slave)
    n = int(rate * seconds)
    frames = binary.encode_frames(np.zeros((n, 6)), np.arange(n), np.arange(n) * int(1e6 / rate))
    written = np.zeros(n)
    seen = np.full(n, np.nan)
    src = SerialImu(SerialSettings(path, 921600, "binary", fs=rate))
    src.start()
    try:
        t_next = time.perf_counter()
        k = 0
        while k < n:
            now = time.perf_counter()
            if now >= t_next:
                written[k] = time.perf_counter()
                os.write(master, frames[k * 24:(k + 1) * 24])
                k += 1
                t_next += 1.0 / rate
            b = src.read()
            if b.n_samples:
                seen[b.seq:b.seq + b.n_samples] = time.perf_counter()
            else:
                time.sleep(0.0002)
        deadline = time.perf_counter() + 1.0
        while np.isnan(seen).any() and time.perf_counter() < deadline:
            b = src.read()
            if b.n_samples:
                seen[b.seq:b.seq + b.n_samples] = time.perf_counter()
            time.sleep(0.0005)
    finally:
        src.stop()
        os.close(master)
        os.close(slave)
    lat = (seen - written)[~np.isnan(seen)] * 1e3
    return {"rate_hz": rate, "samples": int(lat.size), "median_ms": float(np.median(lat)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max())}


def run_serial_formats(samples: int = 20000) -> dict[str, object]:
    """Every format's decode throughput and UART capacity, and the pty latency at 1 kHz (a JSON-ready dict)."""
    results: dict[str, object] = {"python": platform.python_version(), "machine": platform.machine(), "formats": {}}
    for fmt in FORMATS:
        results["formats"][fmt] = {
            "samples_per_s_one_per_read": decode_throughput(fmt, samples, 1),
            "samples_per_s_ten_per_read": decode_throughput(fmt, samples, 10),
            "samples_per_s_bulk": decode_throughput(fmt, samples, 0),
            "max_rate_hz_115200_baud": max_rate_hz(fmt, 115200),
            "max_rate_hz_921600_baud": max_rate_hz(fmt, 921600),
        }
    results["pty_latency_binary_1khz"] = pty_latency()
    return results
