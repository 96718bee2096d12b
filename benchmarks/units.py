"""The unit asv prints next to a ``track_*`` benchmark's value.

asv reads it from the benchmark function's ``unit`` attribute
(https://asv.readthedocs.io/en/stable/writing_benchmarks.html#tracking-any-value); ``unit``
sets it without losing the function's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Track = TypeVar("Track", bound=Callable[..., Any])


def unit(name: str) -> Callable[[Track], Track]:
    """Decorator: asv reports the decorated ``track_*`` function's value in ``name``."""

    def mark(track: Track) -> Track:
        track.__dict__["unit"] = name
        return track

    return mark
