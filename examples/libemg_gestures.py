"""Train libemg's LDA on a myostream gesture protocol and run libemg's online classifier on the live stream.

Runs in libemg's environment (libemg pins ``numpy<2``; this file needs libemg,
pylsl, numpy and ``libemg_bridge.py`` beside it, nothing of myostream). Three
steps, each against a simulator running a gesture protocol (docs/gestures.md)::

    # training session (seed 1), recorded through LSL: EMG and the gesture truth, sample by sample
    python launch.py run --gestures protocol:reps=3 --seed 1 --name train --wait-for-consumer 60 &
    libemg-env/bin/python examples/libemg_gestures.py collect --prefix train --out train.npz

    # a new session of the same subject (seed 2): offline test, then libemg's online classifier
    python launch.py run --gestures protocol:reps=3 --seed 2 --name test --wait-for-consumer 60 &
    libemg-env/bin/python examples/libemg_gestures.py collect --prefix test --out test.npz
    libemg-env/bin/python examples/libemg_gestures.py train --data train.npz --test test.npz --model lda.pkl
    python launch.py run --gestures protocol:reps=3 --seed 3 --name live &
    libemg-env/bin/python examples/libemg_gestures.py online --prefix live --model lda.pkl --seconds 60

Windows are 200 ms with a 50 ms step; features are Hudgins' time-domain set
(MAV, ZC, SSC, WL; Hudgins et al. 1993, Englehart & Hudgins 2003). A window is
labelled with the gesture class of its samples; windows that straddle a
change of class are left out of training and offline testing. Online, every
libemg decision (UDP, as libemg sends it) is compared with the gesture truth
at the moment it arrives; the figure "steady" leaves out the first second
after each change of class (the muscles' onset).
"""

# ruff: noqa: T201  (a command-line example: it prints)
from __future__ import annotations

import argparse
import json
import pickle
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pylsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import libemg_bridge  # noqa: E402  (beside this file)

FEATURES = ["MAV", "ZC", "SSC", "WL"]
"""Hudgins' time-domain features (libemg names)."""

WINDOW_S, STEP_S = 0.2, 0.05


def _inlet(name: str, timeout: float) -> pylsl.StreamInlet:
    found, deadline = [], time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, 1, 0.5)
    if not found:
        raise RuntimeError(f"No LSL stream {name!r} within {timeout:g} s; is the simulator running with --gestures?")
    inlet = pylsl.StreamInlet(found[0], max_buflen=360)
    inlet.open_stream(timeout=10.0)
    return inlet


def collect(prefix: str, out: Path, seconds: float | None, timeout: float) -> dict:
    """Record ``<prefix>-EMG`` and ``<prefix>-gesture`` until the protocol ends (or ``seconds``); save an .npz."""
    emg_in, truth_in = _inlet(f"{prefix}-EMG", timeout), _inlet(f"{prefix}-gesture", timeout)
    fs = emg_in.info().nominal_srate()
    emg, emg_t, truth, truth_t = [], [], [], []
    start, last_new = time.monotonic(), time.monotonic()
    while True:
        data, ts = emg_in.pull_chunk(timeout=0.05, max_samples=4096)
        gdata, gts = truth_in.pull_chunk(timeout=0.0, max_samples=4096)
        if ts:
            emg.append(np.asarray(data, np.float32))
            emg_t.append(np.asarray(ts))
            last_new = time.monotonic()
        if gts:
            truth.append(np.asarray(gdata, np.float32))
            truth_t.append(np.asarray(gts))
        if seconds is not None and time.monotonic() - start >= seconds:
            break
        if time.monotonic() - last_new > 2.0 and emg:  # the simulator's --duration ended
            break
    emg_a, emg_ts = np.concatenate(emg), np.concatenate(emg_t)
    truth_a, truth_ts = np.concatenate(truth), np.concatenate(truth_t)
    # The gesture truth has one row per EMG sample with the same timestamp: align by timestamp.
    index = np.searchsorted(truth_ts, emg_ts)
    ok = (index < len(truth_ts)) & (np.abs(truth_ts[np.minimum(index, len(truth_ts) - 1)] - emg_ts) < 0.25 / fs)
    labels = np.where(ok, truth_a[np.minimum(index, len(truth_ts) - 1), 0], -1).astype(np.int16)
    np.savez_compressed(out, emg=emg_a[ok], labels=labels[ok], fs=fs)
    summary = {"samples": int(ok.sum()), "seconds": float(ok.sum() / fs),
               "classes": sorted(int(c) for c in np.unique(labels[ok]))}
    print(f"collect: {json.dumps(summary)} -> {out}")
    return summary


def windows_and_labels(emg: np.ndarray, labels: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """libemg windows (N, channels, samples) of the recording, and the class of each; mixed windows left out."""
    from libemg.utils import get_windows  # deferred: libemg's environment only

    size, step = int(round(WINDOW_S * fs)), int(round(STEP_S * fs))
    windows = get_windows(emg, size, step)
    lab = get_windows(labels[:, None].astype(np.float64), size, step)[:, 0, :]
    pure = np.all(lab == lab[:, :1], axis=1)
    return windows[pure], lab[pure, 0].astype(int)


def features(windows: np.ndarray) -> np.ndarray:
    """Hudgins' TD features of each window (libemg's FeatureExtractor)."""
    from libemg.feature_extractor import FeatureExtractor  # deferred: libemg's environment only

    return FeatureExtractor().extract_features(FEATURES, windows, array=True)


def train(data: Path, model: Path, test: Path | None) -> dict:
    """Fit libemg's LDA on a collected session; score it on another (offline); save it."""
    from libemg.emg_predictor import EMGClassifier  # deferred: libemg's environment only

    rec = np.load(data)
    fs = float(rec["fs"])
    w, y = windows_and_labels(rec["emg"], rec["labels"], fs)
    clf = EMGClassifier("LDA")
    clf.fit(feature_dictionary={"training_features": features(w), "training_labels": y})
    with open(model, "wb") as fh:
        pickle.dump({"classifier": clf, "fs": fs, "classes": sorted(set(y.tolist()))}, fh)
    result = {"train_windows": int(len(y)), "train_accuracy": float(np.mean(clf.run(features(w))[0] == y))}
    if test is not None:
        trec = np.load(test)
        tw, ty = windows_and_labels(trec["emg"], trec["labels"], float(trec["fs"]))
        predicted = clf.run(features(tw))[0]
        result.update(test_windows=int(len(ty)), test_accuracy=float(np.mean(predicted == ty)))
        per_class = {int(c): float(np.mean(predicted[ty == c] == c)) for c in sorted(set(ty.tolist()))}
        result["test_accuracy_per_class"] = per_class
    print(f"train: {json.dumps(result)}")
    return result


def online(prefix: str, model: Path, seconds: float, port: int, bridge_prefix: str, timeout: float) -> dict:
    """libemg's OnlineEMGClassifier on the live stream through the bridge; its decisions scored against the truth."""
    from libemg.data_handler import OnlineDataHandler  # deferred: libemg's environment only
    from libemg.emg_predictor import OnlineEMGClassifier  # deferred: libemg's environment only

    with open(model, "rb") as fh:
        saved = pickle.load(fh)
    fs = saved["fs"]
    truth_in = _inlet(f"{prefix}-gesture", timeout)
    process, items = libemg_bridge.lsl_streamer(f"{prefix}-EMG", prefix=bridge_prefix, seconds=5.0,
                                                resolve_timeout=timeout)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.01)
    odh = OnlineDataHandler(items)
    classifier = OnlineEMGClassifier(saved["classifier"], int(round(WINDOW_S * fs)), int(round(STEP_S * fs)), odh,
                                     FEATURES, port=port)
    classifier.run(block=False)
    current, changed_at = 0, time.monotonic()
    decisions, steady = [], []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            data, ts = truth_in.pull_chunk(timeout=0.0, max_samples=8192)
            if ts:
                newest = int(data[-1][0])
                if newest != current:
                    current, changed_at = newest, time.monotonic()
            try:
                message = sock.recv(1024).decode().split()
            except TimeoutError:
                continue
            if not message:
                continue
            hit = int(float(message[0])) == current
            decisions.append(hit)
            if time.monotonic() - changed_at > 1.0:
                steady.append(hit)
    finally:
        classifier.stop_running()
        process.stop()
        sock.close()
    result = {"decisions": len(decisions), "online_accuracy": float(np.mean(decisions)) if decisions else None,
              "online_accuracy_steady": float(np.mean(steady)) if steady else None}
    print(f"online: {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("collect", help="record a session's EMG and gesture truth")
    c.add_argument("--prefix", default="myostream")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--seconds", type=float, default=None, help="default: until the simulator stops")
    t = sub.add_parser("train", help="fit libemg's LDA (and score it on --test)")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--test", type=Path, default=None)
    t.add_argument("--model", type=Path, required=True)
    o = sub.add_parser("online", help="libemg's online classifier on the live stream")
    o.add_argument("--prefix", default="myostream")
    o.add_argument("--model", type=Path, required=True)
    o.add_argument("--seconds", type=float, default=60.0)
    o.add_argument("--port", type=int, default=12346)
    o.add_argument("--bridge-prefix", default="", help="tag prefix of the bridge's shared memory")
    for p in (c, o):
        p.add_argument("--resolve-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    libemg_bridge.quiet_liblsl()
    try:
        if args.step == "collect":
            collect(args.prefix, args.out, args.seconds, args.resolve_timeout)
        elif args.step == "train":
            train(args.data, args.model, args.test)
        else:
            online(args.prefix, args.model, args.seconds, args.port, args.bridge_prefix, args.resolve_timeout)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"libemg_gestures: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
