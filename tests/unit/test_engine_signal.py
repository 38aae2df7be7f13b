"""Surface-EMG realism of the default engine (armband8, 8 muscles x 100 units, 2 kHz)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.signal import welch

from realtime.core.block import Block
from realtime.stages.engine import EmgEngine, EngineSettings


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


FS = 2000.0


@pytest.fixture(scope="module")
def engine() -> EmgEngine:
    e = EmgEngine(EngineSettings(fs=FS, seed=0))
    e.reset(max_block=int(4 * FS))
    return e


def _steady(engine: EmgEngine, drive: float, seconds: float = 4.0) -> np.ndarray:
    """EMG under a constant drive of every muscle, without the first second (recruitment transient)."""
    engine.reset(max_block=int(seconds * FS))
    n = int(seconds * FS)
    act = np.full((n, engine.settings.n_muscles), drive, np.float32)
    out = engine.process(Block(act, np.arange(n) / FS, FS, 0, engine.settings.muscles))
    return out.data[int(FS) :].astype(np.float64)


def _median_frequency(x: np.ndarray) -> tuple[float, float]:
    f, p = welch(x, fs=FS, nperseg=1024)
    c = np.cumsum(p)
    band = p[(f >= 20) & (f <= 450)].sum() / p.sum()
    return float(f[np.searchsorted(c, c[-1] / 2)]), float(band)


def test_rms_increases_with_drive(engine: EmgEngine) -> None:
    drives = [0.05, 0.1, 0.3, 0.5, 0.8, 1.0]
    rms = np.array([np.sqrt((_steady(engine, d, 3.0) ** 2).mean(axis=0)) for d in drives])
    strongest = rms[-1].argmax()
    assert np.all(np.diff(rms[:, strongest]) > 0)
    assert np.all(np.diff(rms.mean(axis=1)) > 0)
    # A few hundred microvolts RMS on the strongest armband channels at strong contraction.
    assert 150.0 < rms[-2].max() < 1000.0
    assert rms[0].max() < 0.3 * rms[-1].max()


def test_median_frequency_at_half_drive(engine: EmgEngine) -> None:
    emg = _steady(engine, 0.5)
    rms = np.sqrt((emg**2).mean(axis=0))
    for c in np.argsort(rms)[::-1][:3]:  # the three strongest channels
        mdf, band = _median_frequency(emg[:, c])
        assert 60.0 <= mdf <= 130.0, (c, mdf)
        assert band >= 0.9, (c, band)


def test_no_narrow_spectral_peaks(engine: EmgEngine) -> None:
    emg = _steady(engine, 0.5)
    c = int(np.sqrt((emg**2).mean(axis=0)).argmax())
    f, p = welch(emg[:, c], fs=FS, nperseg=512)
    sel = (f > 10) & (f < 500)
    # No line a few bins wide stands far above its neighbourhood (the spectrum is broad).
    smooth = np.convolve(p, np.ones(9) / 9, mode="same")
    assert (p[sel] / smooth[sel]).max() < 3.0
