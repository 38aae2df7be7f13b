"""The viewer's stream side on real LSL: ring buffer from an inlet, discovery, stream slots."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np
import pylsl
import pytest

from gui.ring_buffer import RingBuffer
from gui.streams import (
    RELEASE_AFTER_S,
    NoStreamError,
    StreamSlot,
    discover,
)
from realtime.app.demo_outlet import emg_info
from tests.helpers import unique_name, wait_until
from tests.helpers.lsl import resolve_stream


def test_ring_buffer_pulls_from_a_real_inlet_without_losing_or_reordering() -> None:
    name = unique_name("ring")
    fs = 1000.0
    out = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 4, fs, "float32", name))
    info = resolve_stream(name, 5.0)
    inlet = pylsl.StreamInlet(info, max_buflen=60)
    inlet.open_stream(timeout=5.0)
    ring = RingBuffer(4, 700, max_chunk=256)  # small chunks: many pulls, several wraps
    n_total = 2500
    sent = np.empty((n_total, 4), dtype=np.float32)
    sent[:, 0] = np.arange(n_total)  # sample-index channel exposes drops/duplicates
    sent[:, 1:] = np.random.default_rng(1).standard_normal((n_total, 3))
    t0 = pylsl.local_clock()
    for start in range(0, n_total, 100):
        out.push_chunk(sent[start : start + 100], timestamp=t0 + (start + 99) / fs)
    wait_until(lambda src=inlet: ring.pull(src) >= 0 and ring.total_written >= n_total, 5.0, 0.01,
               f"{n_total} samples in the ring")
    assert ring.total_written == n_total
    data, ts = ring.latest(700)
    np.testing.assert_array_equal(data, sent[-700:])
    np.testing.assert_allclose(np.diff(ts), 1 / fs, atol=1e-6)
    del inlet, out
    gc.collect()


# --------------------------------------------------------------------------- discovery / slots
def test_discover_lists_what_was_found_when_nothing_matches() -> None:
    other = unique_name("other")
    out = pylsl.StreamOutlet(pylsl.StreamInfo(other, "EEG", 2, 250.0, "float32", other))
    missing = unique_name("missing")
    with pytest.raises(NoStreamError) as err:
        discover(stream=missing, timeout=0.6)
    msg = str(err.value)
    assert f"no stream named '{missing}'" in msg
    assert f"{other} [EEG, 2 ch @ 250 Hz]" in msg
    assert "\n" not in msg
    with pytest.raises(ValueError, match="'timeout' must be a number > 0 s"):
        discover(stream=missing, timeout=0)
    del out


def test_discover_finds_prefix_companions() -> None:
    prefix = unique_name("pfx")
    emg = pylsl.StreamOutlet(emg_info(f"{prefix}-EMG", "armband8", 1000.0))
    status = pylsl.StreamOutlet(
        pylsl.StreamInfo(f"{prefix}-status", "Status", 5, 1.0, "float32", f"{prefix}-s")
    )
    found = discover(prefix=prefix, timeout=5.0)
    assert found.emg.name() == f"{prefix}-EMG"
    assert set(found.companions) == {"status"}
    assert found.prefix == prefix
    del emg, status


def test_stream_slot_counts_timestamp_gaps() -> None:
    name = unique_name("gaps")
    fs = 500.0
    out = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 2, fs, "float32", name))
    info = resolve_stream(name, 5.0)
    slot = StreamSlot(info, buffer_s=4.0)
    t0 = pylsl.local_clock()
    block = np.ones((50, 2), np.float32)
    # three blocks; a 40 ms hole (20 missing samples) between the 2nd and the 3rd
    out.push_chunk(block, timestamp=t0 + 49 / fs)
    out.push_chunk(block, timestamp=t0 + 99 / fs)
    out.push_chunk(block, timestamp=t0 + 169 / fs)
    _poll_until(slot, lambda: slot.received >= 150, 5.0)
    assert slot.received == 150
    assert slot.state == "live"
    assert slot.n_gaps == 1
    assert slot.gap_seconds == pytest.approx(20 / fs, abs=1e-6)
    slot.close()
    del out


def test_stream_slot_refuses_a_returned_stream_with_other_channels() -> None:
    name = unique_name("shape")
    fs = 200.0
    out = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 4, fs, "float32", ""))
    info = resolve_stream(name, 5.0)
    slot = StreamSlot(info, buffer_s=2.0, lost_after_s=0.2)
    out.push_chunk(np.zeros((20, 4), np.float32))
    _poll_until(slot, lambda: slot.state == "live", 5.0)
    del out
    gc.collect()
    _poll_until(slot, lambda: slot.state == "lost", 10.0)
    wider = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 6, fs, "float32", ""))
    _poll_until(slot, lambda: bool(slot.note), 5.0, push=wider, width=6)
    assert slot.state == "lost"
    assert "is back with 6 channels" in slot.note
    assert "restart the viewer" in slot.status_text()
    slot.close()
    del wider


def _poll_until(
    slot: StreamSlot,
    done: Callable[[], bool],
    seconds: float,
    push: pylsl.StreamOutlet | None = None,
    width: int = 4,
) -> None:
    """Poll ``slot`` (pushing 4 samples of ``width`` channels to ``push`` before each poll, if given) until
    ``done()``; fail after ``seconds``."""

    def polled() -> bool:
        if push is not None:
            push.push_chunk(np.zeros((4, width), np.float32))
        slot.poll()
        return done()

    wait_until(polled, seconds, 0.02, f"the slot of {slot.name!r} to reach its state")


def _poll_for(slot: StreamSlot, seconds: float) -> None:
    """Poll ``slot`` for ``seconds`` (an observation window: nothing is awaited)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        slot.poll()
        time.sleep(0.02)


def test_stream_slot_releases_a_vanished_stream_and_takes_it_back() -> None:
    """A gone outlet: the slot closes its inlet (liblsl's recovery would flood discovery) and
    reconnects when a stream of that name and source_id is announced again; a silent but
    still-announced outlet keeps its inlet."""
    name = unique_name("release")
    fs = 200.0
    out = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 4, fs, "float32", name))
    slot = StreamSlot(
        resolve_stream(name, 5.0), buffer_s=2.0, lost_after_s=0.2
    )
    _poll_until(slot, lambda: slot.state == "live", 5.0, push=out)
    assert slot.state == "live"
    # Silent for longer than the release delay, outlet still there: the inlet stays open.
    _poll_for(slot, RELEASE_AFTER_S + 1.5)
    assert slot.state == "lost"
    assert slot._inlet is not None
    del out
    gc.collect()
    _poll_until(slot, lambda: slot._inlet is None, RELEASE_AFTER_S + 10.0)
    assert slot._inlet is None  # released: no liblsl recovery loop left running
    back = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 4, fs, "float32", name))
    _poll_until(slot, lambda: slot.state == "live", 10.0, push=back)
    assert slot.state == "live"
    assert slot.n_returns == 1
    slot.close()
    del back

