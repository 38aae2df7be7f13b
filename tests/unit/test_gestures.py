"""The gesture layer: synergies, schedules and protocols, the synthesizer's dynamics, intent, and the mix stage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from realtime.body.gestures import (
    ENGINE_GROUPS,
    SYNERGIES,
    GestureCommand,
    GestureSettings,
    GestureSynthesizer,
    engine_synergies,
    group_matrix,
    intent_efforts,
    load_gestures,
    load_schedule,
    parse_command,
    protocol,
)
from realtime.core.anatomy import GESTURES, MUSCLES
from realtime.core.block import Block
from realtime.core.contract import StreamFormat, check_chain
from realtime.stages.engine import EmgEngine, EngineSettings
from realtime.stages.gesture_mix import GestureMix

FS = 1000.0


class ListIntent:
    """An intent source fed by the test (what devices.lsl_intent.LslIntent hands over)."""

    def __init__(self) -> None:
        self.items: list = []

    def poll(self) -> list:
        items, self.items = self.items, []
        return items


def _run(synth: GestureSynthesizer, seconds: float, block: int = 4) -> tuple[np.ndarray, np.ndarray]:
    acts, truths = [], []
    for _ in range(int(round(seconds * synth.fs / block))):
        a, t = synth.generate(block)
        acts.append(a.copy())
        truths.append(t.copy())
    return np.concatenate(acts), np.concatenate(truths)


# ---------------------------------------------------------------------------- synergies
def test_every_gesture_has_a_synergy_whose_prime_movers_lead_it() -> None:
    assert set(SYNERGIES) == set(GESTURES)
    for name, syn in SYNERGIES.items():
        if name == "rest":
            assert not syn.weights
            continue
        top = max(syn.weights.values())
        assert all(syn.weights[m] >= 0.5 * top for m in syn.prime_movers), name
        others = [w for m, w in syn.weights.items() if m not in syn.prime_movers]
        assert max(others, default=0.0) <= top, name


def test_the_engine_map_is_a_force_weighted_mean_per_engine_muscle() -> None:
    g = group_matrix(MUSCLES)
    used = {ENGINE_GROUPS[m] for m in ENGINE_GROUPS}
    np.testing.assert_allclose(g.sum(axis=0), [1.0 if m in used else 0.0 for m in MUSCLES])
    e = engine_synergies(MUSCLES)
    assert not e[GESTURES.index("rest")].any()
    flex, ext = MUSCLES.index("wrist_flexors"), MUSCLES.index("wrist_extensors")
    assert e[GESTURES.index("hand_close"), flex] > e[GESTURES.index("hand_close"), ext] > 0.2  # grip co-contraction
    assert e[GESTURES.index("hand_open"), ext] > 3 * e[GESTURES.index("hand_open"), flex]
    assert e[GESTURES.index("pronation")].argmax() == MUSCLES.index("pronator_teres")
    assert e[GESTURES.index("supination")].argmax() == MUSCLES.index("supinator")


# ---------------------------------------------------------------------------- schedules
def test_a_schedule_file_parses_with_comments_percentages_and_commas(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("# onset duration gesture effort\n\n2 5 hand_close 50%\n10, 2.5, wrist-flexion, 0.3  # note\n")
    commands = load_schedule(path)
    assert commands == (GestureCommand(2.0, 5.0, "hand_close", 0.5), GestureCommand(10.0, 2.5, "wrist_flexion", 0.3))
    assert load_gestures(str(path)) == commands


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2 5 hand_close", "s.txt:1: expected 4 fields 'onset duration gesture effort' (e.g. '2 5 hand_close 50%'), "
                           "got 3: '2 5 hand_close'."),
        ("x 5 hand_close 0.5", "s.txt:1: onset and duration must be numbers of seconds; 'x 5 hand_close 0.5' is "
                               "invalid."),
        ("# c\n1 2 fist 0.5", "s.txt:2: unknown gesture 'fist'; the gestures are rest, hand_close, hand_open, pinch, "
                              "point, wrist_flexion, wrist_extension, pronation, supination."),
        ("1 2 pinch 150%", "s.txt:1: the effort must be a fraction within (0, 1] or a percentage (e.g. 0.4 or 40%); "
                           "'150%' is invalid."),
        ("1 -2 pinch 0.5", "s.txt:1: The duration must be a time > 0 in seconds; -2.0 is invalid."),
        ("1 5 pinch 0.5\n3 2 point 0.5", "s.txt:2: starts at 3 s, before the gesture of s.txt:1 ends (6 s); a "
                                         "schedule holds one gesture at a time."),
    ],
)
def test_a_bad_schedule_line_is_one_error_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"s\.txt:\d: ") as err:
        load_schedule(path)
    assert str(err.value) == message.replace("s.txt", f"{tmp_path}/s.txt")
    assert "\n" not in str(err.value)


def test_a_missing_schedule_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="The gesture schedule 'nope.txt' does not exist."):
        load_gestures("nope.txt")


def test_the_protocol_is_each_gesture_n_reps_of_hold_with_rest() -> None:
    cmds = protocol(reps=2, hold=5.0, rest=3.0, effort=0.4, start=1.0, gestures=("hand_close", "pinch"))
    assert [(c.onset, c.duration, c.gesture, c.effort) for c in cmds] == [
        (1.0, 5.0, "hand_close", 0.4), (9.0, 5.0, "hand_close", 0.4), (17.0, 5.0, "pinch", 0.4),
        (25.0, 5.0, "pinch", 0.4)]
    inter = load_gestures("protocol:reps=2,order=interleaved,gestures=hand_close+pinch,effort=40%,start=1")
    assert [c.gesture for c in inter] == ["hand_close", "pinch", "hand_close", "pinch"]
    assert len(load_gestures("protocol")) == 5 * (len(GESTURES) - 1)
    assert load_gestures("live") == ()
    with pytest.raises(ValueError, match=r"--gestures 'protocol:reps=2,speed=3': 'speed=3' is invalid; protocol "
                                         r"parameters are reps=..."):
        load_gestures("protocol:reps=2,speed=3")
    with pytest.raises(ValueError, match="--gestures 'protocol:gestures=fist': protocol: unknown gesture 'fist'"):
        load_gestures("protocol:gestures=fist")


# ---------------------------------------------------------------------------- the synthesizer
def _synth(schedule=(), intent=None, **settings) -> GestureSynthesizer:
    synth = GestureSynthesizer(FS, schedule, intent, MUSCLES, GestureSettings(**settings))
    synth.reset(max_block=4)
    return synth


def test_truth_follows_the_schedule_to_the_sample_and_activation_follows_with_its_dynamics() -> None:
    sched = (GestureCommand(0.5013, 2.0, "hand_close", 0.6),)
    act, truth = _run(_synth(sched), 4.0)
    on, off = 501, 2501  # round(onset * fs), round(end * fs): inside a block of 4
    assert not truth[:on].any()
    np.testing.assert_array_equal(truth[on:off, 0], GESTURES.index("hand_close"))
    np.testing.assert_allclose(truth[on:off, 1], 0.6)
    assert not truth[off:].any()
    flex = act[:, MUSCLES.index("wrist_flexors")]
    assert flex[on - 1] == 0.0 < flex[on] < 0.01  # it starts at the onset sample, from zero
    rise = np.argmax(flex[on:] > 0.9 * flex[on + 1000:off].mean())
    assert 100 < rise < 600  # a gesture's onset takes a few hundred ms (tau_on, activation dynamics)
    assert flex[off + 1000] < 0.05 * flex[on + 1000:off].mean()  # released within a second
    assert flex[:on].max() == 0.0


def test_effort_grades_the_activation() -> None:
    levels = []
    for effort in (0.1, 0.3, 0.5, 0.8):
        act, _ = _run(_synth((GestureCommand(0.0, 3.0, "wrist_extension", effort),), effort_cv=0.0), 3.0)
        levels.append(act[1000:3000, MUSCLES.index("wrist_extensors")].mean())
    assert np.all(np.diff(levels) > 0)
    assert levels[-1] / levels[0] == pytest.approx(8.0, rel=0.25)


def test_variability_is_seeded_and_differs_between_trials() -> None:
    sched = protocol(reps=4, hold=1.0, rest=1.0, start=0.5, gestures=("pinch",))
    a1, _ = _run(_synth(sched, seed=3), 8.5)
    a2, _ = _run(_synth(sched, seed=3), 8.5)
    a3, _ = _run(_synth(sched, seed=4), 8.5)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)
    flex = MUSCLES.index("wrist_flexors")
    holds = [a1[int((0.5 + 2 * k + 0.6) * FS):int((0.5 + 2 * k + 1.0) * FS), flex].mean() for k in range(4)]
    cv = np.std(holds) / np.mean(holds)
    assert 0.02 < cv < 0.4  # repetitions differ, by a plausible amount
    fixed, _ = _run(_synth(sched, effort_cv=0.0, synergy_cv=0.0, ramp_cv=0.0, fluctuation_cv=0.0), 8.5)
    holds = [fixed[int((0.5 + 2 * k + 0.6) * FS):int((0.5 + 2 * k + 1.0) * FS), flex].mean() for k in range(4)]
    assert np.std(holds) / np.mean(holds) < 1e-3


def test_cocontraction_raises_the_antagonists() -> None:
    sched = (GestureCommand(0.0, 2.0, "pronation", 0.8),)
    ext = MUSCLES.index("wrist_extensors")
    with_cc, _ = _run(_synth(sched, cocontraction=0.2, effort_cv=0.0, synergy_cv=0.0), 2.0)
    without, _ = _run(_synth(sched, cocontraction=0.0, effort_cv=0.0, synergy_cv=0.0), 2.0)
    assert with_cc[1000:, ext].mean() > 0.1 > 0.02 > without[1000:, ext].mean()


def test_an_intent_moves_the_truth_within_one_block_and_the_newest_command_wins() -> None:
    intent = ListIntent()
    synth = _synth((GestureCommand(0.0, 10.0, "hand_open", 0.5),), intent)
    _run(synth, 0.2)
    intent.items.append("pinch 30%")
    _, truth = synth.generate(4)
    np.testing.assert_array_equal(truth[:, 0], GESTURES.index("pinch"))  # from the block's first sample
    np.testing.assert_allclose(truth[:, 1], 0.3)
    intent.items += ["point", "fist 0.2"]  # the invalid one is refused, logged, and changes nothing
    _, truth = synth.generate(4)
    assert truth[0, 0] == GESTURES.index("point")
    assert truth[0, 1] == pytest.approx(0.5)
    assert synth.rejected_intents == 1
    intent.items.append({"wrist_flexion": 0.2, "supination": 0.7})  # levels: the largest names the class
    _, truth = synth.generate(4)
    assert tuple(truth[0]) == (GESTURES.index("supination"), pytest.approx(0.7))
    intent.items.append("rest")
    _, truth = synth.generate(4)
    assert not truth.any()


def test_intent_commands_and_levels_parse() -> None:
    assert parse_command("hand-close") == (1, 0.5)
    assert parse_command("Wrist_Flexion 40%") == (GESTURES.index("wrist_flexion"), 0.4)
    assert parse_command("rest 0.9") == (0, 0.0)
    with pytest.raises(ValueError, match="intent 'a b c': expected '<gesture> \\[effort\\]'"):
        parse_command("a b c")
    e = intent_efforts({"pinch": 1.4, "rest": 1.0})
    assert e[GESTURES.index("pinch")] == 1.0
    assert e[0] == 0.0
    with pytest.raises(ValueError, match="the level of 'pinch' must be finite"):
        intent_efforts({"pinch": float("nan")})


# ---------------------------------------------------------------------------- the mix stage and the engine
@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


def test_the_mix_combines_by_rule_and_attaches_the_truth() -> None:
    intent = ListIntent()
    synth = _synth(intent=intent, effort_cv=0.0, synergy_cv=0.0, fluctuation_cv=0.0)
    order = tuple(reversed(MUSCLES))  # the stage picks columns by name
    imu = np.full((4, len(MUSCLES)), 0.3, np.float32)
    blk = Block(imu, np.arange(4) / FS, FS, 0, order, {"angles": np.zeros((4, 3), np.float32)})
    for rule in ("sum", "max"):
        mix = GestureMix(synth, rule)
        check_chain(StreamFormat(fs=FS, channels=order), [mix])
        mix.reset(None, max_block=4)
        out = mix.process(blk)
        np.testing.assert_allclose(out.data, 0.3)  # at rest the IMU-driven activations pass unchanged
        assert out.channels == MUSCLES
        assert "angles" in out.aux
        intent.items.append("hand_close 0.8")
        for _ in range(500):
            out = mix.process(blk)
        flex = MUSCLES.index("wrist_flexors")
        gesture_level = synth._act[3, flex]  # the drive's last sample, for the expected value
        expected = 1 - 0.7 * (1 - gesture_level) if rule == "sum" else max(0.3, gesture_level)
        assert out.data[-1, flex] == pytest.approx(expected, rel=1e-5)
        assert out.aux["gesture"][-1, 0] == GESTURES.index("hand_close")
        intent.items.append("rest")
    # Each change is announced once, at its sample, as a marker the runner publishes on <prefix>-markers.
    mix = GestureMix(_synth((GestureCommand(0.0021, 0.004, "pinch", 0.3),)))
    mix.reset(None, max_block=4)
    markers = []
    for k in range(4):
        blk = Block(imu, (4 * k + np.arange(4)) / FS, FS, 4 * k, order)
        markers += list(mix.process(blk).events.get("markers", ()))
    assert markers == [("gesture: pinch 30%", 2 / FS), ("gesture: rest", 6 / FS)]


@pytest.mark.parametrize("gesture", [g for g in GESTURES if g != "rest"])
def test_each_gestures_synergy_reaches_the_engine(gesture: str) -> None:
    """Held at 60 %, the engine muscles the synergy drives hardest fire the most motor units."""
    synth = _synth((GestureCommand(0.0, 3.0, gesture, 0.6),))
    engine = EmgEngine(EngineSettings(fs=FS, seed=0, units_per_muscle=60))
    mix = GestureMix(synth)
    fmt = check_chain(mix.input_format, [mix, engine])
    mix.reset(fmt[0], max_block=20)
    engine.reset(fmt[1], max_block=20)
    counts = np.zeros(len(MUSCLES))
    still = np.zeros((20, len(MUSCLES)), np.float32)
    for k in range(int(3.0 * FS / 20)):
        blk = Block(still, (k * 20 + np.arange(20)) / FS, FS, k * 20, MUSCLES)
        out = engine.process(mix.process(blk))
        d = out.events.get("discharges")
        if d is not None and k * 20 >= 1000:  # after the onset
            counts += np.bincount(d.muscle, minlength=len(MUSCLES))
    mapped = engine_synergies(MUSCLES)[GESTURES.index(gesture)]
    assert counts.argmax() == mapped.argmax()
    # Every muscle the synergy drives at > 25 % of its strongest fires; triceps and brachialis (never in a
    # gesture) fire only from the non-specific co-contraction, which does not reach them: not at all.
    for j in np.flatnonzero(mapped > 0.25 * mapped.max()):
        assert counts[j] > 0, MUSCLES[j]
    assert counts[MUSCLES.index("triceps")] == 0
    assert counts[MUSCLES.index("brachialis")] == 0


def test_the_shipped_example_schedule_parses() -> None:
    from tests.helpers import REPO_ROOT

    commands = load_schedule(REPO_ROOT / "examples" / "gestures" / "demo.txt")
    assert {c.gesture for c in commands} == set(GESTURES[1:])
