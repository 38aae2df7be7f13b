"""Unique names for LSL streams created outside the ``lsl_prefix`` fixture."""

from __future__ import annotations

from uuid import uuid4


def unique_name(tag: str) -> str:
    """``test_<tag>_<8 hex digits>``: a stream name (and source_id) no other test or run uses."""
    return f"test_{tag}_{uuid4().hex[:8]}"
