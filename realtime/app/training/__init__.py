"""Offline training and evaluation of the activation network (imports torch where needed)."""
