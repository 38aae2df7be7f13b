"""A minimal prosthesis-controller loop on myostream's EMG stream (only pylsl and numpy needed).

It does what a myoelectric wrist controller does with a real amplifier:

1. subscribes to ``<prefix>-EMG`` (any LSL EMG stream with channel locations works);
2. every control period (10 ms) computes the mean absolute value (MAV) and RMS of
   each channel over a sliding window (150 ms);
3. maps the flexor and extensor MAV to a proportional wrist velocity
   ``gain * (flexor - extensor) / (flexor + extensor)`` (so it is independent of
   the overall signal level), with a dead band at rest;
4. measures its own loop latency: the age of the newest EMG sample when the
   command is out (``local_clock() - timestamp``), the compute time, and, when
   myostream's ``<prefix>-provenance`` stream is there, the motion-to-command
   latency (from the IMU sample that produced the newest EMG block).

Flexor and extensor channels are picked from the electrode positions in the
stream metadata (``desc/channels/channel/location``: y volar, z radial; wrist
flexors sit volar-ulnar, extensors dorsal), or given with ``--flexors`` and
``--extensors``.

Usage (terminal 1 runs the simulator, terminal 2 the controller)::

    python launch.py run --motion wrist-flexion
    python examples/controller.py --prefix myostream --duration 30 --publish

With ``wrist-flexion`` the command is extension (``ext``) whenever the hand
moves: the program holds the forearm palm down, so gravity flexes the wrist and
the extensors do the work in every phase (see examples/README.md).
"""

# ruff: noqa: T201  (a command-line example: it prints)
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pylsl

FLEXOR_ANGLE_DEG = -40.0
EXTENSOR_ANGLE_DEG = 180.0
SECTOR_DEG = 60.0


@dataclass
class ControllerStats:
    """What one controller run measured.

    Attributes
    ----------
    commands : int
        Control periods with a command.
    velocity : ndarray
        The wrist velocity commands (rad/s), one per control period.
    command_time : ndarray
        LSL time of each command.
    data_age_ms : ndarray
        Age of the newest EMG sample when each command was out (ms).
    compute_ms : ndarray
        Time to compute each command from the window (ms).
    motion_to_command_ms : ndarray
        IMU sample (provenance ``imu_time``) to command, where provenance was available (ms).
    flexors, extensors : list of int
        0-based channels used.
    """

    commands: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    command_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    data_age_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    compute_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    motion_to_command_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flexors: list[int] = field(default_factory=list)
    extensors: list[int] = field(default_factory=list)


def quiet_liblsl() -> None:
    """Silence liblsl's INFO lines on stderr, unless the user has an LSL configuration of their own.

    Call it before any other pylsl call (as ``launch.py`` does): liblsl reads its
    configuration once, on first use.
    """
    candidates = [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    if os.environ.get("LSLAPICFG") or any(p.exists() for p in candidates):
        return
    pylsl.set_config_content("[log]\nlevel = -2\n")


def channel_angles(info: pylsl.StreamInfo) -> np.ndarray:
    """Angle of each channel around the forearm (degrees; 0 volar, +90 radial), NaN without a location."""
    angles = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        loc = ch.child("location")
        try:
            y, z = float(loc.child_value("Y")), float(loc.child_value("Z"))
            angles.append(math.degrees(math.atan2(z, y)))
        except ValueError:
            angles.append(float("nan"))
        ch = ch.next_sibling()
    return np.array(angles[: info.channel_count()] + [float("nan")] * (info.channel_count() - len(angles)))


def pick_channels(angles: np.ndarray, centre_deg: float, sector_deg: float = SECTOR_DEG) -> list[int]:
    """Channels within ``sector_deg`` of ``centre_deg`` around the forearm."""
    diff = np.abs((angles - centre_deg + 180.0) % 360.0 - 180.0)
    return [int(i) for i in np.flatnonzero(diff <= sector_deg)]


def parse_channels(text: str, n_channels: int) -> list[int]:
    """``"1,2,8"`` (1-based channel numbers) -> ``[0, 1, 7]``; raises ``ValueError`` naming the bad entry."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= n_channels:
            raise ValueError(f"channel list {text!r}: {part!r} is not a channel number in 1..{n_channels}.")
        out.append(int(part) - 1)
    return out


class SlidingFeatures:
    """MAV and RMS per channel over the last ``window`` samples (a preallocated ring buffer).

    Parameters
    ----------
    n_channels : int
        Channels.
    window : int
        Samples in the window.
    """

    def __init__(self, n_channels: int, window: int) -> None:
        if window < 1:
            raise ValueError(f"The argument 'window' must be at least 1 sample. {window!r} is invalid.")
        self.window = window
        self._ring = np.zeros((window, n_channels), np.float32)
        self._pos = 0
        self.filled = 0

    def push(self, samples: np.ndarray) -> None:
        """Add samples (n, n_channels); only the last ``window`` are kept."""
        n = samples.shape[0]
        if n >= self.window:
            self._ring[:] = samples[-self.window:]
            self._pos = 0
        else:
            end = self._pos + n
            if end <= self.window:
                self._ring[self._pos:end] = samples
            else:
                k = self.window - self._pos
                self._ring[self._pos:] = samples[:k]
                self._ring[: n - k] = samples[k:]
            self._pos = end % self.window
        self.filled = min(self.filled + n, self.window)

    def mav(self) -> np.ndarray:
        """Mean absolute value per channel."""
        return np.abs(self._ring).mean(axis=0)

    def rms(self) -> np.ndarray:
        """Root mean square per channel."""
        return np.sqrt(np.square(self._ring).mean(axis=0))


def wrist_velocity(flexor: float, extensor: float, gain: float, dead_band: float, rest_level: float) -> float:
    """Proportional wrist velocity from flexor/extensor MAV (positive = flexion).

    The contrast ``(f - e) / (f + e)`` is scaled by how far the total activity
    is above ``rest_level`` (no movement at rest; the controller takes 1.5 times
    the quietest window seen so far), then the dead band is applied.
    """
    total = flexor + extensor
    if total <= rest_level or total <= 0.0:
        return 0.0
    contrast = (flexor - extensor) / total
    drive = min((total - rest_level) / max(rest_level, 1e-9), 1.0)
    v = contrast * drive
    return 0.0 if abs(v) < dead_band else gain * v


def run_controller(
    prefix: str = "myostream",
    duration: float | None = None,
    window_ms: float = 150.0,
    period_ms: float = 10.0,
    gain: float = 2.0,
    dead_band: float = 0.1,
    flexors: list[int] | None = None,
    extensors: list[int] | None = None,
    publish: bool = False,
    resolve_timeout: float = 10.0,
    on_command: object = None,
) -> ControllerStats:
    """Run the control loop until ``duration`` seconds have passed (or forever).

    Parameters
    ----------
    prefix : str
        myostream's stream prefix (``<prefix>-EMG``).
    duration : float | None
        Seconds to run; None runs until Ctrl-C.
    window_ms, period_ms : float
        Feature window and control period.
    gain : float
        Wrist velocity at full contrast (rad/s).
    dead_band : float
        Contrast below which the command is 0.
    flexors, extensors : list of int | None
        0-based channels; None picks them from the electrode locations.
    publish : bool
        Publish the command on ``<prefix>-controller`` (1 channel, wrist velocity).
    resolve_timeout : float
        Seconds to look for the EMG stream.
    on_command : callable | None
        Called with (time, velocity, mav) after each command.
    """
    found, deadline = [], time.monotonic() + resolve_timeout
    while not found and time.monotonic() < deadline:  # short resolves, repeated: robust to a lost reply
        found = pylsl.resolve_byprop("name", f"{prefix}-EMG", 1, min(0.5, resolve_timeout))
    if not found:
        raise RuntimeError(f"No stream {prefix}-EMG found within {resolve_timeout:g} s; is the simulator running "
                           f"(python launch.py run --name {prefix})?")
    prov_found = pylsl.resolve_byprop("name", f"{prefix}-provenance", 1, 1.0)
    prov_in = pylsl.StreamInlet(prov_found[0], max_buflen=10) if prov_found else None
    if prov_in is not None:
        prov_in.open_stream(timeout=5.0)
    emg_in = pylsl.StreamInlet(found[0], max_buflen=10)
    info = emg_in.info(timeout=5.0)
    fs, n_ch = info.nominal_srate(), info.channel_count()
    angles = channel_angles(info)
    flexors = flexors if flexors is not None else pick_channels(angles, FLEXOR_ANGLE_DEG)
    extensors = extensors if extensors is not None else pick_channels(angles, EXTENSOR_ANGLE_DEG)
    if not flexors or not extensors:
        raise RuntimeError(
            f"Could not find both flexor and extensor channels from the electrode locations of {prefix}-EMG "
            f"(flexors {flexors}, extensors {extensors}); give them with --flexors and --extensors."
        )
    outlet = None
    if publish:
        out_info = pylsl.StreamInfo(f"{prefix}-controller", "Control", 1, 1000.0 / period_ms, pylsl.cf_float32,
                                    f"{prefix}-controller")
        out_info.desc().append_child("channels").append_child("channel").append_child_value(
            "label", "wrist_velocity")
        outlet = pylsl.StreamOutlet(out_info)
    emg_in.open_stream(timeout=5.0)

    features = SlidingFeatures(n_ch, max(int(round(window_ms * 1e-3 * fs)), 1))
    chunk = np.empty((max(int(fs), 1024), n_ch), np.float32)
    pchunk = np.empty((256, 6), np.float64)
    prov_blocks: list[tuple[float, float]] = []  # (block's last-sample timestamp, imu_time)
    rest_level = math.inf
    stats = ControllerStats(flexors=flexors, extensors=extensors)
    velocities, times, ages, computes, m2c = [], [], [], [], []
    newest_ts = None
    period = period_ms * 1e-3
    t_start = pylsl.local_clock()
    next_tick = t_start
    try:  # Ctrl-C ends the loop and keeps what was measured
        while duration is None or pylsl.local_clock() - t_start < duration:
            while True:  # everything that arrived since the last period
                _, ts = emg_in.pull_chunk(timeout=0.0, max_samples=chunk.shape[0], dest_obj=chunk)
                if not ts:
                    break
                features.push(chunk[: len(ts)])
                newest_ts = ts[-1]
            if prov_in is not None:
                _, pts = prov_in.pull_chunk(timeout=0.0, max_samples=pchunk.shape[0], dest_obj=pchunk)
                for i, t in enumerate(pts):
                    if pchunk[i, 1] >= 0:
                        prov_blocks.append((t, pchunk[i, 0]))
                del prov_blocks[:-64]
            if features.filled == features.window and newest_ts is not None:
                t_c = time.perf_counter()
                mav = features.mav()
                flex, ext = float(mav[flexors].mean()), float(mav[extensors].mean())
                rest_level = min(rest_level, 1.5 * (flex + ext))  # the quietest window seen: rest
                v = wrist_velocity(flex, ext, gain, dead_band, rest_level)
                now = pylsl.local_clock()
                computes.append((time.perf_counter() - t_c) * 1e3)
                if outlet is not None:
                    outlet.push_sample([v], now)
                velocities.append(v)
                times.append(now)
                ages.append((now - newest_ts) * 1e3)
                imu_t = [it for (bt, it) in prov_blocks if bt <= newest_ts + 1e-9]
                m2c.append((now - imu_t[-1]) * 1e3 if imu_t else float("nan"))
                if on_command is not None:
                    on_command(now, v, mav)
            next_tick += period
            delay = next_tick - pylsl.local_clock()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = pylsl.local_clock()
    except KeyboardInterrupt:
        pass
    stats.commands = len(velocities)
    stats.velocity, stats.command_time = np.array(velocities), np.array(times)
    stats.data_age_ms, stats.compute_ms = np.array(ages), np.array(computes)
    stats.motion_to_command_ms = np.array(m2c)
    emg_in.close_stream()
    if prov_in is not None:
        prov_in.close_stream()
    return stats


def _summary(stats: ControllerStats) -> str:
    def pct(x: np.ndarray) -> str:
        x = x[np.isfinite(x)]
        return "n/a" if x.size == 0 else f"p50 {np.percentile(x, 50):.2f} / p99 {np.percentile(x, 99):.2f} ms"

    return (f"{stats.commands} commands; EMG sample age at command {pct(stats.data_age_ms)}; "
            f"compute {pct(stats.compute_ms)}; motion (IMU sample) to command {pct(stats.motion_to_command_ms)}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="myostream", help="Stream-name prefix of the simulator.")
    parser.add_argument("--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C).")
    parser.add_argument("--window-ms", type=float, default=150.0, help="Feature window (ms).")
    parser.add_argument("--period-ms", type=float, default=10.0, help="Control period (ms).")
    parser.add_argument("--gain", type=float, default=2.0, help="Wrist velocity at full contrast (rad/s).")
    parser.add_argument("--flexors", default=None, help="Flexor channels, 1-based, e.g. 7,8,1 (default: from locations).")
    parser.add_argument("--extensors", default=None, help="Extensor channels, 1-based (default: from locations).")
    parser.add_argument("--publish", action="store_true", help="Publish the command on <prefix>-controller.")
    parser.add_argument("--resolve-timeout", type=float, default=10.0, help="Seconds to wait for <prefix>-EMG.")
    args = parser.parse_args(argv)
    quiet_liblsl()

    count = [0]

    def show(t: float, v: float, mav: np.ndarray) -> None:
        count[0] += 1
        if count[0] % 100 == 0:  # once a second at the default 10 ms period
            bar = "#" * int(min(abs(v) / args.gain, 1.0) * 20)
            print(f"wrist velocity {v:+6.2f} rad/s {'flex' if v > 0 else 'ext ' if v < 0 else 'rest'} {bar}")

    try:
        flex = ext = None
        if args.flexors or args.extensors:
            found = pylsl.resolve_byprop("name", f"{args.prefix}-EMG", 1, args.resolve_timeout)
            n_ch = found[0].channel_count() if found else 0
            flex = parse_channels(args.flexors, n_ch) if args.flexors else None
            ext = parse_channels(args.extensors, n_ch) if args.extensors else None
        stats = run_controller(args.prefix, args.duration, args.window_ms, args.period_ms, args.gain,
                               flexors=flex, extensors=ext, publish=args.publish,
                               resolve_timeout=args.resolve_timeout, on_command=show)
    except (RuntimeError, ValueError) as err:
        print(f"controller: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    print(_summary(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
