"""Can Qt open the viewer here? Answered before a ``QApplication`` exists.

When no Qt platform plugin can start (no display, or the xcb plugin's system
libraries are missing), Qt prints a few lines and aborts the process
(SIGABRT, exit code 134). :func:`platform_problem` finds these cases first,
from the environment and from ``ldd`` on the plugin, so ``launch.py view``
can exit with one line that names what is missing and the fix.

This module imports no Qt: it only locates the PySide6 plugin files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
"""Debian/Ubuntu package of each system library the Qt platform plugins link against
(found with ``ldd`` on PySide6's ``plugins/platforms/*.so``)."""

APT_LINE = (
    "sudo apt-get install libegl1 libgl1 libfontconfig1 libglib2.0-0 libdbus-1-3 "
    "libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 "
    "libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1"
)
"""Everything Qt's xcb (X11) and offscreen platforms need on a fresh Debian/Ubuntu (docs/viewer.md)."""

HEADLESS_HINT = "Without a screen: QT_QPA_PLATFORM=offscreen (with --screenshot) or xvfb-run python launch.py view"

_NO_DISPLAY_NEEDED = {
    "offscreen",
    "minimal",
    "minimalegl",
    "linuxfb",
    "eglfs",
    "vnc",
    "vkkhrdisplay",
}

Ldd = Callable[[Path], "str | None"]


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """The Qt platform plugins Qt will try, in order, for this environment.

    ``QT_QPA_PLATFORM`` (``name[:options]``, alternatives separated by ``;``)
    when set; otherwise ``wayland`` then ``xcb`` in a Wayland session and
    ``xcb`` elsewhere.
    """
    value = env.get("QT_QPA_PLATFORM", "").strip()
    if value:
        names = [part.split(":", 1)[0].strip() for part in value.split(";")]
        return [name for name in names if name]
    if env.get("XDG_SESSION_TYPE") == "wayland" or env.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]
    return ["xcb"]


def plugin_dir(env: Mapping[str, str]) -> Path | None:
    """Folder of Qt's platform plugins (``QT_QPA_PLATFORM_PLUGIN_PATH`` or PySide6's), or ``None``."""
    override = env.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    return path if path.is_dir() else None


def run_ldd(path: Path) -> str | None:
    """``ldd PATH`` output, or ``None`` where ``ldd`` does not exist or fails to run."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        proc = subprocess.run(  # noqa: S603 - a fixed tool on our own plugin file
            [ldd, str(path)], capture_output=True, text=True, timeout=20.0, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout


def missing_libraries(ldd_output: str) -> list[str]:
    """Library names ``ldd`` reports as ``not found`` (each once, in order)."""
    missing: list[str] = []
    for line in ldd_output.splitlines():
        name, sep, rest = line.strip().partition("=>")
        if sep and rest.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def install_hint(libraries: list[str]) -> str:
    """``sudo apt-get install ...`` for ``libraries`` (unknown ones named as they are)."""
    packages: list[str] = []
    unknown: list[str] = []
    for lib in libraries:
        package = DEBIAN_PACKAGES.get(lib)
        if package is None:
            unknown.append(lib)
        elif package not in packages:
            packages.append(package)
    parts = []
    if packages:
        parts.append("sudo apt-get install " + " ".join(packages))
    if unknown:
        parts.append("the package that provides " + ", ".join(unknown) + " (apt-file search NAME)")
    return " and ".join(parts)


def _display_problem(name: str, env: Mapping[str, str], x11_sockets: Path) -> str | None:
    if name == "xcb":
        display = env.get("DISPLAY", "")
        if not display:
            return "has no X display (DISPLAY is not set)"
        host, _, number = display.rpartition(":")
        number = number.split(".", 1)[0]
        # a local display ":N" is the socket X11_SOCKETS/XN; remote ones (host:N) are not checked
        if host in ("", "unix") and number.isdigit() and not (x11_sockets / f"X{number}").exists():
            return f"finds no X server for DISPLAY={display} (no {x11_sockets / ('X' + number)})"
    if name.startswith("wayland"):
        socket = env.get("WAYLAND_DISPLAY") or "wayland-0"
        runtime = env.get("XDG_RUNTIME_DIR")
        if not Path(socket).is_absolute() and (
            runtime is None or not (Path(runtime) / socket).exists()
        ):
            return "finds no Wayland compositor (WAYLAND_DISPLAY)"
    return None


def platform_problem(
    env: Mapping[str, str] | None = None,
    ldd: Ldd = run_ldd,
    plugins: Path | None = None,
    system: str | None = None,
    x11_sockets: Path = Path("/tmp/.X11-unix"),  # noqa: S108 - where X servers put their sockets
) -> str | None:
    """Why Qt would abort instead of opening a window here, in one line; ``None`` when it can start.

    Parameters
    ----------
    env : Mapping[str, str] | None
        Environment variables (default ``os.environ``).
    ldd : callable
        Returns the ``ldd`` output for a plugin file, or ``None`` when it cannot
        tell (then the libraries are not checked).
    plugins : Path | None
        Folder of the platform plugins (default: :func:`plugin_dir`).
    system : str | None
        ``sys.platform`` (default the running one); only Linux is checked:
        elsewhere Qt brings its own platform (cocoa, windows).
    x11_sockets : Path
        Folder of the local X servers' sockets (``X0``, ``X1``, ...).

    Returns
    -------
    str | None
        The problem of the first platform Qt would try, with the fix, or
        ``None`` when one of the platforms Qt tries can start.
    """
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if not system.startswith("linux"):
        return None
    if plugins is None:
        plugins = plugin_dir(env)
    explicit = bool(env.get("QT_QPA_PLATFORM", "").strip())
    problems: dict[str, str] = {}
    for name in requested_platforms(env):
        missing: list[str] = []
        output = None
        if plugins is not None and (plugins / f"libq{name}.so").is_file():
            output = ldd(plugins / f"libq{name}.so")
        if output is not None:
            missing = missing_libraries(output)
        display = None if name in _NO_DISPLAY_NEEDED else _display_problem(name, env, x11_sockets)
        if not missing and display is None:
            return None
        origin = "from QT_QPA_PLATFORM" if explicit else "Qt's default"
        reasons = []
        if missing:
            reasons.append(
                f"needs the missing libraries {', '.join(missing)}: {install_hint(missing)}"
            )
        if display is not None:
            reasons.append(display)
        problems[name] = f"Qt's platform '{name}' ({origin}) " + "; and ".join(reasons)
    if not problems:
        return None
    # By default the X11 problem is the one to fix (Wayland sessions run X11 programs too).
    first = problems.get("xcb") if not explicit else None
    first = first or next(iter(problems.values()))
    return f"The viewer cannot open a window: {first}. {HEADLESS_HINT}."


__all__ = [
    "APT_LINE",
    "DEBIAN_PACKAGES",
    "HEADLESS_HINT",
    "install_hint",
    "missing_libraries",
    "platform_problem",
    "plugin_dir",
    "requested_platforms",
    "run_ldd",
]
