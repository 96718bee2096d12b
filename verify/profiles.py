"""Run profiles: how many examples, how large, and the Hypothesis settings that go with them.

Three profiles, ``quick``, ``default`` and ``thorough``, are registered as Hypothesis settings
profiles under the names ``xent-quick``, ``xent-default`` and ``xent-thorough``
(https://hypothesis.readthedocs.io/en/latest/reference/api.html#settings-profiles).  Each also
fixes the shape alphabet strategies draw from (a handful of batch sizes, class counts, spatial
extents and hidden sizes: compiled functions are reused across examples) and whether large
class counts (thousands to tens of thousands, in float16/bfloat16) are drawn at all.

Runs are derandomized when the environment variable ``CI`` is ``true`` or an explicit seed is
given; failing examples are saved in a Hypothesis example database under ``.hypothesis/`` and
replayed first on the next run (https://hypothesis.readthedocs.io/en/latest/reference/api.html#database).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes and effort of one run profile."""

    name: str
    #: examples per (implementation, check, dtype, device) search
    max_examples: int
    #: the shape alphabet: the (N, C, (d1, ..., dk)) shapes drawn, batch size, class count and
    #: trailing K-dimensional extents together (``()`` is the plain (N, C) case; entries
    #: without K-dimensional inputs drop the extents; the softmax family uses them as extra
    #: axes).  A handful of shapes, fixed per profile, so that a framework that compiles per
    #: shape (XLA, inductor) compiles each shape once per process and reuses it for every
    #: later example and check, instead of compiling every newly drawn shape.  They keep the
    #: edge cases: one row, two classes, extent 1, a class count that is not a power of two.
    shapes: tuple[tuple[int, int, tuple[int, ...]], ...]
    #: the class counts of the large-vocabulary draws (empty: none drawn)
    large_classes: tuple[int, ...]
    #: examples of each large-vocabulary search (they are slow in an exact reference)
    large_examples: int
    hidden_sizes: tuple[int, ...]
    #: evaluations allowed for shrinking a failure before the search settles for the smallest
    #: failing example seen so far
    shrink_examples: int = 30
    shrink: bool = True
    #: whether the compiled code paths (``[jit]``, ``[xla]``, ``[compiled]`` entries) run
    #: without being asked for: compiling is most of their cost (about 4.5 s an inductor
    #: signature on the CPU), so the ``quick`` look runs the plain entries and leaves them to
    #: ``default`` and ``thorough`` unless ``--implementation`` names them
    compiled_code_paths: bool = True

    @property
    def rows(self) -> tuple[int, ...]:
        """The batch sizes N drawn."""
        return tuple(sorted({n for n, _, _ in self.shapes}))

    @property
    def classes(self) -> tuple[int, ...]:
        """The class counts C of ordinary (not large-vocabulary) draws."""
        return tuple(sorted({c for _, c, _ in self.shapes}))

    @property
    def spatial_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The trailing K-dimensional extents drawn, ``()`` first."""
        return tuple(sorted({k for _, _, k in self.shapes}, key=lambda k: (len(k), k)))

    @property
    def max_rows(self) -> int:
        """The largest batch size drawn."""
        return max(self.rows)

    @property
    def max_classes(self) -> int:
        """The largest class count of ordinary (not large-vocabulary) draws."""
        return max(self.classes)

    @property
    def max_spatial(self) -> int:
        """The largest extent of a K-dimensional axis."""
        return max((d for shape in self.spatial_shapes for d in shape), default=1)

    @property
    def max_spatial_dims(self) -> int:
        """The most K-dimensional axes drawn."""
        return max(len(shape) for shape in self.spatial_shapes)

    @property
    def max_hidden(self) -> int:
        """The largest hidden size drawn for linear_cross_entropy."""
        return max(self.hidden_sizes)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        max_examples=10,
        shapes=((1, 2, ()), (3, 6, (2,))),
        large_classes=(),
        large_examples=0,
        hidden_sizes=(3,),
        shrink_examples=10,
        compiled_code_paths=False,
    ),
    "default": Profile(
        name="default",
        max_examples=30,
        shapes=(
            (1, 2, ()),
            (4, 12, ()),
            (4, 3, (3,)),
            (1, 12, (1, 2)),
            (4, 2, (1, 2)),
            (1, 3, (3,)),
        ),
        large_classes=(4096,),
        large_examples=1,
        hidden_sizes=(1, 8),
        shrink_examples=20,
    ),
    "thorough": Profile(
        name="thorough",
        max_examples=200,
        shapes=tuple(
            (n, c, k)
            for n in (1, 2, 3, 5, 8)
            for c in (2, 3, 4, 7, 12, 31, 64)
            for k in ((), (1,), (4,), (2, 3), (1, 4))
        ),
        large_classes=(32000, 50257),
        large_examples=3,
        hidden_sizes=(1, 2, 5, 16, 32),
        shrink_examples=500,
    ),
}

DATABASE_DIR = Path(".hypothesis") / "examples"


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name``; ValueError naming the known profiles otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}"
        ) from None


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value (GitHub Actions, GitLab and others set CI=true)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def example_database(directory: str | Path | None = None) -> ExampleDatabase:
    """The example database where failing examples are saved and replayed."""
    return DirectoryBasedExampleDatabase(str(directory or DATABASE_DIR))


def hypothesis_settings(
    profile: str | Profile,
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    database: ExampleDatabase | bool | None = True,
) -> settings:
    """Hypothesis settings of a profile for one programmatic search.

    Determinism comes from the seed the caller applies with :func:`hypothesis.seed` (see
    :func:`search_seed`), not from ``derandomize``, which Hypothesis pairs with
    ``database=None``: a seeded search is reproducible *and* saves and replays its failures.
    ``database=True`` uses :func:`example_database`; ``False``/``None`` disables it.
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    db: ExampleDatabase | None
    if database is True:
        db = example_database()
    elif database is False:
        db = None
    else:
        db = database
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if prof.shrink:
        phases.append(Phase.shrink)
    return settings(
        max_examples=max_examples if max_examples is not None else prof.max_examples,
        derandomize=False,
        database=db,
        deadline=None,
        phases=phases,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )


def search_seed(seed: int | None, key: str) -> int | None:
    """The seed of one search: derived from ``seed`` and the search's ``key`` when a seed is
    given, from 0 and the key when ``CI`` is true, None (fresh randomness) otherwise."""
    if seed is None and not in_ci():
        return None
    digest = hashlib.sha256(f"{seed or 0}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def register_profiles() -> None:
    """Register ``xent-quick``, ``xent-default``, ``xent-thorough`` with Hypothesis (for
    ``@given`` tests written against the strategies: derandomized in CI, where Hypothesis
    then keeps no database; saving to ``.hypothesis/`` elsewhere)."""
    ci = in_ci()
    for name, prof in PROFILES.items():
        settings.register_profile(
            f"xent-{name}",
            max_examples=prof.max_examples,
            deadline=None,
            derandomize=ci,
            database=None if ci else example_database(),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )


register_profiles()

__all__ = [
    "DATABASE_DIR",
    "PROFILES",
    "Profile",
    "example_database",
    "get_profile",
    "hypothesis_settings",
    "in_ci",
    "register_profiles",
    "search_seed",
]
