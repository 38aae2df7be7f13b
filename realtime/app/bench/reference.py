"""Slow, independent references for tests and benchmarks (never used by the engine).

The offline peers build surface EMG as, per motor unit and channel, the
convolution of a spike train with the MUAP. :func:`reference_emg` does exactly
that with ``np.convolve`` (truncated causally to the signal length), so it
checks the overlap-add and serves as the benchmark baseline.
"""

from __future__ import annotations

import numpy as np


def spike_trains(
    spk_sample: np.ndarray, spk_unit: np.ndarray, n_units: int, n_samples: int
) -> np.ndarray:
    """Discharges as a dense ``(n_units, n_samples)`` float64 array of counts.

    Discharges at or after ``n_samples`` are ignored.
    """
    trains = np.zeros((n_units, n_samples))
    keep = np.asarray(spk_sample) < n_samples
    np.add.at(trains, (np.asarray(spk_unit)[keep], np.asarray(spk_sample)[keep]), 1.0)
    return trains


def reference_emg(trains: np.ndarray, muaps: np.ndarray) -> np.ndarray:
    """Sum over units of ``np.convolve(train[u], muaps[u, :, c])[:T]`` for every channel.

    Parameters
    ----------
    trains : ndarray, shape (n_units, T)
        Spike trains from :func:`spike_trains`.
    muaps : ndarray, shape (n_units, L, C)
        MUAP tables.

    Returns
    -------
    ndarray, shape (T, C), float64
    """
    n_u, n_t = trains.shape
    n_c = muaps.shape[2]
    out = np.zeros((n_t, n_c))
    for u in range(n_u):
        train = trains[u]
        for c in range(n_c):
            out[:, c] += np.convolve(train, muaps[u, :, c])[:n_t]
    return out
