"""Shared pytest configuration: a deterministic Hypothesis profile for the whole suite.

``derandomize=True`` makes every property test draw the same examples on every run (CI
failures reproduce locally); ``deadline=None`` because the correctly rounded reference and the
test oracles legitimately take longer on some inputs.  Select another registered profile with
``--hypothesis-profile``.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("deterministic")
