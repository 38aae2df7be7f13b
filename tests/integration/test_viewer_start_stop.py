"""The viewer starts or explains, and Ctrl-C closes it: real processes (`launch.py view`, `run --view`)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gui.process import READY_LINE
from gui.qt_platform import (
    APT_LINE,
    DEBIAN_PACKAGES,
    install_hint,
    missing_libraries,
    platform_problem,
    plugin_dir,
    requested_platforms,
)
from tests.helpers import wait_until
from tests.helpers.paths import REPO_ROOT

ROOT = REPO_ROOT
_LAUNCH = REPO_ROOT / "launch.py"

# What `ldd libqxcb.so` prints on a Debian 12 machine that lacks two of the xcb utility libraries.
LDD_TWO_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd6d1f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f2b1c000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2b1bff0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f2b1bfc0000)
\tlibxcb-icccm.so.4 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2b1c600000)
"""
LDD_COMPLETE = "\n".join(line for line in LDD_TWO_MISSING.splitlines() if "not found" not in line)


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _read_until(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """Read ``proc.stdout`` lines until one contains ``text``; return everything read."""
    seen: list[str] = []
    found = False

    def the_line_or_the_end() -> bool:
        nonlocal found
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not ready:
            return False
        line = proc.stdout.readline()
        seen.append(line)
        found = text in line
        return found or (not line and proc.poll() is not None)

    wait_until(the_line_or_the_end, timeout, 0.0, f"a line with {text!r} on stdout")
    if not found:
        raise AssertionError(f"the process ended without a line with {text!r}; stdout: {''.join(seen)!r}")
    return "".join(seen)


# ---------------------------------------------------------------------------- the platform check
def test_requested_platforms_follow_qt_rules() -> None:
    assert requested_platforms({}) == ["xcb"]
    assert requested_platforms({"WAYLAND_DISPLAY": "wayland-0"}) == ["wayland", "xcb"]
    assert requested_platforms({"XDG_SESSION_TYPE": "wayland"}) == ["wayland", "xcb"]
    assert requested_platforms({"QT_QPA_PLATFORM": "offscreen"}) == ["offscreen"]
    assert requested_platforms({"QT_QPA_PLATFORM": "xcb:nograb;offscreen"}) == ["xcb", "offscreen"]


def test_missing_libraries_are_read_from_ldd_output_once_each() -> None:
    assert missing_libraries(LDD_TWO_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert missing_libraries(LDD_COMPLETE) == []
    assert install_hint(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]) == (
        "sudo apt-get install libxcb-icccm4 libxcb-keysyms1"
    )
    assert install_hint(["libglib-2.0.so.0", "libgthread-2.0.so.0", "libfoo.so.9"]) == (
        "sudo apt-get install libglib2.0-0 and the package that provides libfoo.so.9 "
        "(apt-file search NAME)"
    )


def _plugins(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / f"libq{name}.so").write_bytes(b"")
    return tmp_path


def test_xcb_with_missing_libraries_names_them_and_the_apt_command(tmp_path: Path) -> None:
    plugins = _plugins(tmp_path, "xcb", "offscreen")
    sockets = tmp_path / "x11"
    sockets.mkdir()
    (sockets / "X0").write_bytes(b"")  # a local X server :0 exists
    asked: list[Path] = []

    def ldd(path: Path) -> str:
        asked.append(path)
        return LDD_TWO_MISSING

    env = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}
    message = platform_problem(env, ldd=ldd, plugins=plugins, system="linux", x11_sockets=sockets)
    assert asked == [plugins / "libqxcb.so"]
    assert message is not None
    assert "\n" not in message
    assert "'xcb' (from QT_QPA_PLATFORM)" in message
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in message
    assert "QT_QPA_PLATFORM=offscreen" in message
    assert "DISPLAY" not in message.split("Without a screen")[0]  # the display is fine
    # the same machine with the libraries installed: nothing to report
    ok = platform_problem(
        env, ldd=lambda p: LDD_COMPLETE, plugins=plugins, system="linux", x11_sockets=sockets
    )
    assert ok is None


def test_no_display_and_a_dead_display_are_reported(tmp_path: Path) -> None:
    plugins = _plugins(tmp_path, "xcb")
    sockets = tmp_path / "x11"
    sockets.mkdir()
    kwargs = {"ldd": lambda p: LDD_COMPLETE, "plugins": plugins, "system": "linux"}
    message = platform_problem({}, x11_sockets=sockets, **kwargs)
    assert message is not None
    assert "'xcb' (Qt's default) has no X display (DISPLAY is not set)" in message
    assert "QT_QPA_PLATFORM=offscreen" in message
    assert "xvfb-run python launch.py view" in message
    message = platform_problem({"DISPLAY": ":7"}, x11_sockets=sockets, **kwargs)
    assert message is not None
    assert f"finds no X server for DISPLAY=:7 (no {sockets / 'X7'})" in message
    (sockets / "X7").write_bytes(b"")
    assert platform_problem({"DISPLAY": ":7.0"}, x11_sockets=sockets, **kwargs) is None
    # a remote display (ssh -X) is not checked
    assert platform_problem({"DISPLAY": "localhost:10.0"}, x11_sockets=sockets, **kwargs) is None
    # both problems at once are named in one line
    both = platform_problem(
        {}, ldd=lambda p: LDD_TWO_MISSING, plugins=plugins, system="linux", x11_sockets=sockets
    )
    assert both is not None
    assert "libxcb-icccm4 libxcb-keysyms1; and has no X display" in both


def test_headless_platforms_and_other_systems_pass(tmp_path: Path) -> None:
    plugins = _plugins(tmp_path, "offscreen", "xcb")
    ok = {"ldd": lambda p: LDD_COMPLETE, "plugins": plugins, "system": "linux"}
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}, **ok) is None
    assert platform_problem({"QT_QPA_PLATFORM": "minimal"}, **ok) is None
    # a fallback list passes when one of them can start
    assert platform_problem({"QT_QPA_PLATFORM": "xcb;offscreen"}, **ok) is None
    assert (
        platform_problem({}, ldd=lambda p: LDD_TWO_MISSING, plugins=plugins, system="darwin")
        is None
    )
    # ldd unavailable: only the display is checked
    assert (
        platform_problem(
            {"QT_QPA_PLATFORM": "offscreen"}, ldd=lambda p: None, plugins=plugins, system="linux"
        )
        is None
    )


def test_the_apt_line_covers_the_libraries_the_xcb_plugin_links() -> None:
    plugins = plugin_dir(os.environ)
    if plugins is None or not (plugins / "libqxcb.so").is_file():
        pytest.skip("no PySide6 xcb plugin in this environment")
    from gui.qt_platform import run_ldd

    output = run_ldd(plugins / "libqxcb.so")
    if output is None:
        pytest.skip("no ldd on this system")
    linked = {line.split()[0] for line in output.splitlines() if "=>" in line}
    x_libs = {lib for lib in linked if lib.startswith(("libxcb", "libX11-xcb", "libxkbcommon"))}
    assert "libxcb-icccm.so.4" in x_libs  # the ones a fresh Debian lacks are among them
    apt = set(APT_LINE.split()[3:])
    for lib in x_libs:
        assert lib in DEBIAN_PACKAGES, lib  # a missing one is named with its package
        # the apt line lists it, or it is a dependency of a listed package (libxcb1 ...)
        if lib not in {
            "libxcb.so.1",
            "libxcb-render.so.0",
            "libxcb-shm.so.0",
            "libxcb-sync.so.1",
            "libxcb-util.so.1",
        }:
            assert DEBIAN_PACKAGES[lib] in apt, lib


def test_the_check_agrees_with_qt_on_this_machine(tmp_path: Path) -> None:
    """Where the check says Qt can start, Qt starts; where it reports a problem, Qt aborts."""
    code = "from PySide6 import QtWidgets; QtWidgets.QApplication([]); print('started')"
    for platform in ("offscreen", "xcb"):
        env = _env(QT_QPA_PLATFORM=platform, DISPLAY=None, WAYLAND_DISPLAY=None)
        verdict = platform_problem(env)
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        started = proc.returncode == 0 and "started" in proc.stdout
        assert started == (verdict is None), (
            platform,
            verdict,
            proc.returncode,
            proc.stderr[-300:],
        )
    assert platform_problem(_env(QT_QPA_PLATFORM="xcb", DISPLAY=None)) is not None


def test_launch_view_explains_a_missing_display_instead_of_aborting() -> None:
    for platform in ("xcb", None):
        env = _env(
            QT_QPA_PLATFORM=platform, DISPLAY=None, WAYLAND_DISPLAY=None, XDG_SESSION_TYPE=None
        )
        proc = subprocess.run(
            [sys.executable, str(_LAUNCH), "view", "--stream", "nothing", "--timeout", "0.5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not 134 / -6 (SIGABRT)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert lines[0].startswith("Error: The viewer cannot open a window: Qt's platform 'xcb'")
        assert ("(from QT_QPA_PLATFORM)" if platform else "(Qt's default)") in lines[0]
        assert "has no X display (DISPLAY is not set)" in lines[0]
        assert "QT_QPA_PLATFORM=offscreen" in lines[0]
        assert proc.stdout == ""


# ---------------------------------------------------------------------------- Ctrl-C
@pytest.fixture
def demo_outlet(lsl_prefix: str):
    """``launch.py demo-outlet`` publishing ``<prefix>-EMG`` and its companions (a real process)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_LAUNCH),
            "demo-outlet",
            "--name",
            lsl_prefix,
            "--duration",
            "120",
            "--fs",
            "1000",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield lsl_prefix
    proc.terminate()
    proc.wait(timeout=10)
    proc.stderr.close()


@pytest.mark.parametrize(
    ("signum", "said"), [(signal.SIGINT, "viewer: stopped (Ctrl-C)"), (signal.SIGTERM, None)]
)
def test_launch_view_closes_cleanly_on_ctrl_c_and_sigterm(
    demo_outlet: str, signum: int, said: str | None
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_LAUNCH),
            "view",
            "--prefix",
            demo_outlet,
            "--timeout",
            "20",
            "--nice",
            "0",
        ],
        env=_env(QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(proc, f"{READY_LINE} {demo_outlet}-EMG", 60.0)
        time.sleep(1.0)  # let it draw: the signal must arrive inside the event loop
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    if said is not None:
        assert said in out
    else:
        assert "stopped" not in out


def test_launch_view_ctrl_c_while_waiting_for_the_stream_exits_quietly(lsl_prefix: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_LAUNCH),
            "view",
            "--prefix",
            lsl_prefix,
            "--timeout",
            "60",
            "--nice",
            "0",
        ],
        env=_env(QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4.0)  # imported and resolving (a stream that never comes)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "viewer: stopped (Ctrl-C)" in out


def _processes_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the viewer process through /proc")
def test_run_view_stops_simulator_and_viewer_on_ctrl_c(lsl_prefix: str) -> None:
    # Its own session, as a terminal has: Ctrl-C goes to the whole foreground process group.
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_LAUNCH),
            "run",
            "--view",
            "--duration",
            "120",
            "--name",
            lsl_prefix,
            "--quiet",
            "--units",
            "30",
            "--fs",
            "1000",
        ],
        env=_env(QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _read_until(proc, f"{READY_LINE} {lsl_prefix}-EMG", 120.0)
        viewers = _processes_with(f"view --prefix {lsl_prefix}")
        assert len(viewers) == 1
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert "myostream: stopped (Ctrl-C)" in out
    wait_until(lambda: _processes_with(f"view --prefix {lsl_prefix}") == [], 10.0, 0.1, "the viewer process to end")


def test_readme_and_viewer_doc_give_the_apt_line_the_code_uses() -> None:
    for doc in (ROOT / "README.md", ROOT / "docs" / "viewer.md"):
        text = doc.read_text()
        assert APT_LINE in text, doc
        assert "QT_QPA_PLATFORM=offscreen" in text, doc
        assert "xvfb-run" in text, doc
