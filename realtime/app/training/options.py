"""Command-line options shared by ``launch.py train`` and ``launch.py evaluate`` (click).

Data come either from the physics teacher (default) or from recordings:
``--csv FILE [FILE ...]`` or ``--xdf FILE [FILE ...]``. Options that take a
list (``--csv``, ``--xdf``, ``--imu-cols``, ``--emg-cols``, ``--motions``,
``--imu-fs``) read every following word up to the next option, and may also
be repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from tqdm import tqdm

from realtime.app.training.data import (
    ACC_UNITS,
    GYRO_UNITS,
    DataError,
    Dataset,
    Recording,
    TeacherDataSpec,
    load_csv,
    load_xdf,
    recordings_dataset,
    split_recordings_dataset,
    teacher_dataset,
)


def _is_option(token: str) -> bool:
    if not token.startswith("-") or token == "-":
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


class GreedyOption(click.Option):
    """An option that takes every following word up to the next option (``--csv a.csv b.csv``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser, ctx) -> None:  # noqa: ANN001 - click internals
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            popt = parser._long_opt.get(name) or parser._short_opt.get(name)
            if popt is None:
                continue
            original = popt.process

            def process(value, state, original=original) -> None:  # noqa: ANN001
                original(value, state)
                while state.rargs and not _is_option(state.rargs[0]):
                    original(state.rargs.pop(0), state)

            popt.process = process


def data_options(f: Callable) -> Callable:
    """Add the data options to a click command."""
    opts = [
        click.option("--csv", "csv_files", cls=GreedyOption, type=click.Path(dir_okay=False),
                     help="CSV recordings, one per file (IMU and EMG columns at --fs)."),
        click.option("--xdf", "xdf_files", cls=GreedyOption, type=click.Path(dir_okay=False),
                     help="XDF recordings, one per file (IMU and EMG streams)."),
        click.option("--imu-cols", cls=GreedyOption,
                     help="Six IMU columns/channels (name or 0-based index): acc x y z, gyro x y z."),
        click.option("--emg-cols", cls=GreedyOption, help="EMG columns/channels (name or index)."),
        click.option("--fs", "csv_fs", type=float, default=None, help="Sampling rate of the CSV rows (Hz); a time column (t, time, timestamp; s) wins, as in replay."),
        click.option("--acc-unit", type=click.Choice(sorted(ACC_UNITS)), default="m/s2", show_default=True,
                     help="Accelerometer unit of the recordings."),
        click.option("--gyro-unit", type=click.Choice(sorted(GYRO_UNITS)), default="rad/s", show_default=True,
                     help="Gyroscope unit of the recordings."),
        click.option("--imu-stream", default=None, help="Name of the IMU stream in the XDF files [default: the file's only stream of type IMU]."),
        click.option("--emg-stream", default=None, help="Name of the EMG stream in the XDF files [default: the file's only stream of type EMG]."),
        click.option("--val-fraction", type=float, default=0.2, show_default=True,
                     help="Recordings: share held out for validation (whole files when there are >= 3)."),
        click.option("--subjects", type=int, default=None,
                     help="Teacher data: training subjects (randomised arms) [train default: 24]."),
        click.option("--val-subjects", type=int, default=None,
                     help="Teacher data: held-out subjects with unseen programs, for early stopping [default: 6]."),
        click.option("--test-subjects", type=int, default=None,
                     help="Teacher data: held-out subjects with unseen programs, for evaluation only "
                          "(never used in training or model selection) [default: 12]."),
        click.option("--duration", "duration_s", type=float, default=None,
                     help="Teacher data: seconds per recording [default: 30]."),
        click.option("--motions", cls=GreedyOption, help="Teacher data: motion programs [default: all]."),
        click.option("--imu-fs", cls=GreedyOption, type=float,
                     help="Teacher data: IMU rates drawn per recording (Hz) [default: 50 100 200 500]."),
        click.option("--data-seed", type=int, default=None,
                     help="Teacher data: seed of subjects and programs [default: --seed]."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _split_words(values: tuple[str, ...] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out += [w for w in str(v).replace(",", " ").split() if w]
    return out


def uses_recordings(kw: dict[str, Any]) -> bool:
    """Whether the options select recordings rather than teacher data."""
    return bool(kw.get("csv_files") or kw.get("xdf_files"))


def teacher_spec(kw: dict[str, Any], seed: int, base: dict[str, Any] | None = None) -> TeacherDataSpec:
    """The teacher data spec from the options, falling back to ``base`` (a checkpoint's record) then defaults."""
    base = dict(base or {})
    d = TeacherDataSpec()

    def pick(opt: str, key: str, default: Any) -> Any:
        if kw.get(opt) not in (None, ()):
            return kw[opt]
        return base.get(key, default)

    motions = _split_words(kw.get("motions")) or list(base.get("motions", d.motions))
    rates = [float(v) for v in _split_words(kw.get("imu_fs"))] or [float(v) for v in base.get("imu_rates", d.imu_rates)]
    data_seed = kw.get("data_seed")
    return TeacherDataSpec(
        subjects=int(pick("subjects", "subjects", d.subjects)),
        val_subjects=int(pick("val_subjects", "val_subjects", d.val_subjects)),
        test_subjects=int(pick("test_subjects", "test_subjects", d.test_subjects)),
        duration_s=float(pick("duration_s", "duration_s", d.duration_s)),
        motions=tuple(motions),
        imu_rates=tuple(rates),
        seed=int(data_seed if data_seed is not None else base.get("seed", seed)),
    )


def load_recordings(kw: dict[str, Any]) -> list[Recording]:
    """Load the ``--csv`` or ``--xdf`` files of the options (raises :class:`DataError` on bad input)."""
    if kw.get("csv_files") and kw.get("xdf_files"):
        raise DataError("Give either CSV or XDF files, not both (their column options differ).")
    imu_cols = _split_words(kw.get("imu_cols")) or None
    emg_cols = _split_words(kw.get("emg_cols")) or None
    if kw.get("csv_files"):
        if imu_cols is None or emg_cols is None:
            raise DataError("CSV recordings need --imu-cols (6 columns) and --emg-cols (1 or more columns).")
        return [load_csv(p, imu_cols, emg_cols, kw.get("csv_fs"), kw["acc_unit"], kw["gyro_unit"])
                for p in kw["csv_files"]]
    return [load_xdf(p, kw["imu_stream"], kw["emg_stream"], imu_cols, emg_cols, kw["acc_unit"], kw["gyro_unit"])
            for p in kw["xdf_files"]]


def build_dataset(
    kw: dict[str, Any],
    fs: float,
    cutoff_hz: float,
    receptive_field: int,
    seed: int,
    teacher_base: dict[str, Any] | None = None,
    target_scale: tuple[float, ...] | None = None,
    progress: bool = True,
) -> Dataset:
    """Load or generate the data selected by the options (raises :class:`DataError` on bad input)."""
    if kw.get("csv_files") and kw.get("xdf_files"):
        raise DataError("Give either --csv or --xdf files, not both (their column options differ).")
    if (kw.get("train_csv") or kw.get("train_xdf")) and not uses_recordings(kw):
        raise DataError("--train-csv/--train-xdf fit the baselines; give the files to score with --csv or --xdf.")
    if kw.get("train_csv") or kw.get("train_xdf"):
        train_recs = load_recordings({**kw, "csv_files": kw.get("train_csv"), "xdf_files": kw.get("train_xdf")})
        test_recs = load_recordings(kw)
        return split_recordings_dataset(train_recs, test_recs, fs, cutoff_hz, receptive_field, target_scale)
    if uses_recordings(kw):
        recs = load_recordings(kw)
    else:
        spec = teacher_spec(kw, seed, teacher_base)
        bar = None
        if progress:
            bar = tqdm(desc="teacher data", unit="rec", dynamic_ncols=True, leave=False)

        def tick(done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)

        try:
            return teacher_dataset(spec, fs, cutoff_hz, receptive_field, tick)
        finally:
            if bar is not None:
                bar.close()
    return recordings_dataset(recs, fs, cutoff_hz, receptive_field, kw["val_fraction"], seed, target_scale)
