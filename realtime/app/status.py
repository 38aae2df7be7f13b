"""The once-per-second status line of ``launch.py run``: the runner's counters, then the source's.

This module is the one place where that line is formatted: :func:`status_line`
puts the runner's fields first and then only the source counters that apply to
the source in use (:func:`source_fields`): a serial device has decoder
counters (CRC errors only for framed formats, sample-counter gaps only when
the format carries a counter), an LSL stream has none of those, a replayed
file and the synthetic arm have none at all. The line stays within
:data:`STATUS_WIDTH` columns. :data:`STATUS_LEGEND` explains every field
(shown by ``run --help``). To add a field (e.g. input-guard counters), add
it here and to the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.lsl_imu import LslImu
from devices.replay import ReplaySource
from devices.serial_imu import SerialImu

if TYPE_CHECKING:
    from devices.threaded_source import SourceStatus
    from realtime.app.runner import StatusReport

STATUS_WIDTH = 100
"""Most columns a status line takes."""

STATUS_LEGEND = """\
The status line (once a second; --quiet hides it):
  t       seconds since the clock started
  sent    EMG samples published so far
  rate    EMG samples published per second over the last second (should equal --fs)
  late    ticks that started more than one block late (the computer could not keep up)
  load    share of the last second the runner thread was busy computing (100 % = no headroom)
  input   samples the input guard rejected, by cause (only once it rejected any);
          INVALID while the source sends nothing plausible
After the last '|', the source: serial, lsl or replay (none for the synthetic arm):
  ok/LOST whether the device is delivering (serial, lsl)
  imu     IMU samples per second received
  crc     frames with a bad checksum (serial binary/witmotion)
  bad     malformed lines or frames (serial)
  gaps    jumps in the device's sample counter, and samples lost in them (serial with a counter)
  reconn  times the device came back after being lost (serial, lsl)
  done    the recording has been replayed to its end (replay)"""
"""What each field of the status line means (``launch.py run --help``)."""


def source_fields(source: object) -> tuple[str, ...]:
    """The counters of the status line that apply to ``source`` (a subset of the legend's names)."""
    if isinstance(source, SerialImu):
        fmt = source.settings.format
        fields = ["state", "imu"]
        if fmt != "csv":
            fields.append("crc")
        fields.append("bad")
        if fmt == "binary" or (fmt == "csv" and "seq" in source.settings.csv.columns):
            fields.append("gaps")
        fields.append("reconn")
        return tuple(fields)
    if isinstance(source, LslImu):
        return ("state", "imu", "reconn")
    if isinstance(source, ReplaySource):
        return ("imu", "done")
    return ()


def source_kind(source: object) -> str:
    """``serial``, ``lsl``, ``replay`` or ``""`` (a source without a status of its own)."""
    for kind, cls in (("serial", SerialImu), ("lsl", LslImu), ("replay", ReplaySource)):
        if isinstance(source, cls):
            return kind
    return ""


def _source_text(kind: str, fields: tuple[str, ...], st: SourceStatus) -> str:
    parts = [kind]
    for name in fields:
        if name == "state":
            parts.append("ok" if st.connected else "LOST")
        elif name == "imu":
            parts.append(f"imu={st.rate_hz:.0f}Hz")
        elif name == "crc":
            parts.append(f"crc={st.crc_errors}")
        elif name == "bad":
            parts.append(f"bad={st.malformed}")
        elif name == "gaps":
            parts.append(f"gaps={st.seq_gaps}({st.samples_lost})")
        elif name == "reconn":
            parts.append(f"reconn={st.reconnects}")
        elif name == "done":
            parts.append(f"done={'yes' if not st.connected and st.samples else 'no'}")
    text = " ".join(parts)
    if not st.connected and st.last_error:
        text += f" ({st.last_error})"
    return text


def status_line(
    report: StatusReport, source: object = None, width: int = STATUS_WIDTH, guard: str = ""
) -> str:
    """One status line: the runner's counters, then the source's that apply, within ``width`` columns.

    Parameters
    ----------
    report : StatusReport
        The runner's once-per-second report.
    source : object
        The IMU source (its ``status`` is read if it is a serial, LSL or replay source).
    width : int
        Most columns; a long device error at the end is cut with "...".
    guard : str
        The input guard's summary (:meth:`InputGuard.status_text`), ``""`` while it rejected nothing.
    """
    text = (
        f"t={report.elapsed:.1f}s sent={report.samples_sent} rate={report.effective_rate:.1f}Hz "
        f"late={report.late_ticks} load={100 * report.loop_load:.0f}%"
    )
    if guard:
        text += " | " + guard
    fields = source_fields(source)
    if fields:
        text += " | " + _source_text(source_kind(source), fields, source.status)
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text
