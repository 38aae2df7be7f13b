"""Device profiles: publish the EMG (and IMU) streams the way a real amplifier's LSL app does.

See :mod:`devices.profiles.profile` (the TOML format, ``docs/profiles.md``) and
:mod:`devices.profiles.render` (scaling, counts, packets, timestamps).
"""

from devices.profiles.profile import (
    ClockProfile,
    EmgProfile,
    ExtraChannel,
    ImuProfile,
    Profile,
    ProfileError,
    builtin_profiles,
    load_profile,
)

DEFAULT_PROFILE = "myostream"
"""The profile ``run`` uses when ``--profile`` is not given: myostream's own streams."""

__all__ = [
    "DEFAULT_PROFILE", "ClockProfile", "EmgProfile", "ExtraChannel", "ImuProfile", "Profile", "ProfileError",
    "builtin_profiles", "load_profile",
]
