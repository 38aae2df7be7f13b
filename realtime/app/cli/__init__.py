"""The command line, in one place: every click command of myostream.

:mod:`.main` holds the group and the registry of commands (imported only when
they run, :mod:`.lazy`); each other module defines the commands of one area:
:mod:`.run`, :mod:`.view`, :mod:`.devices` (``fake-imu``, ``list-ports``,
``list-streams``), :mod:`.demo`, :mod:`.train`, :mod:`.evaluate`,
:mod:`.validate`, and ``bench`` (:mod:`.bench` and the ``bench_*`` modules).
Commands only parse options, call the code they drive and turn its errors into
one line. Run it as ``python -m realtime.app.cli``, ``python launch.py`` or
``myostream``; other code starts it in a subprocess through
:func:`realtime.core.launcher.cli_command`.
"""
