"""The simulated person: arm mechanics and the physics teacher, and the synthetic arm source.

- :mod:`.musculoskeletal`: joint kinematics -> torques -> muscle activations.
- :mod:`.synthetic`: motion programs, the IMU on the forearm, the live synthetic source.
"""
