"""Input devices and output sinks of myostream: IMU sources (real, replayed, synthetic) and LSL outlets."""
