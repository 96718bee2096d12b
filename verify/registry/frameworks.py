"""The table of frameworks: one record per framework, the only place a framework is declared.

Every per-framework fact other modules need is a field of its :class:`FrameworkSpec`: the
registry module holding its entries, the packages that must be importable, the distributions
whose versions reports record, the install hint, the name prefixes and Keras backend tag that
point a registered name to it, the package whose runtime is asked for a GPU
(``verify.registry.devices``), the process-exclusive group it belongs to and the order its
workers start in.  ``verify.registry``, ``verify.registry.devices``, ``verify.report``,
``verify.cli`` and the pytest entry read these records (or views derived from them); adding a
framework is its registry module plus one record here (``docs/registry.md``, "Adding a
framework").

Reading the table imports nothing but the standard library: it is consulted before any
framework is imported, to decide which ones to import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: the ``pip install`` argument of a framework that comes with this project's dependencies
BASE_INSTALL = "numpy"
#: the start rank of a framework not ranked by measurement: after every ranked one
LATE_START = 100


@dataclasses.dataclass(frozen=True)
class FrameworkSpec:
    """One framework of the registry.

    ``key`` is its name on the command line (``--framework``) and in every result;
    ``module`` its registry module (which defines ``FRAMEWORK = key``); ``packages`` the
    top-level packages that must be importable for the module to load (checked with
    ``importlib.util.find_spec`` alone); ``distributions`` the installed distributions whose
    versions a report records for it; ``install`` what ``pip install`` needs to get it (an
    extra of ``pyproject.toml``, or :data:`BASE_INSTALL`); ``name_prefixes`` the leading
    components of the names it registers (``torch``, ``optax``), so that looking one name up
    imports this framework alone; ``keras_tag`` the tag its ``keras.*`` names end with
    (``"[backend=jax]"``), ``""`` for the untagged Keras names, ``None`` when it registers no
    Keras names; ``gpu_probe`` the package whose runtime reports a GPU (a probe of
    ``verify.registry.devices``), ``None`` without a GPU path; ``exclusive_group`` a name shared
    by the frameworks of which one process can import only one (Keras fixes its backend once
    per process); ``start_rank`` the order the runner starts its first worker in (lower first:
    the slowest frameworks start first, so the fast ones fill the cores at the end; ranked by
    the check time of a quick run of every framework: JAX, Keras on JAX, torch (whose
    ``torch.compile`` entries dominate the larger profiles), TensorFlow, Keras on PyTorch, MLX,
    NumPy).
    """

    key: str
    module: str
    packages: tuple[str, ...]
    distributions: tuple[str, ...]
    install: str
    name_prefixes: tuple[str, ...] = ()
    keras_tag: str | None = None
    gpu_probe: str | None = None
    exclusive_group: str | None = None
    start_rank: int = LATE_START


def _framework(
    key: str,
    *,
    packages: tuple[str, ...] | None = None,
    distributions: tuple[str, ...] | None = None,
    install: str | None = None,
    **fields: Any,
) -> FrameworkSpec:
    """The record of ``key`` with the project's conventions as defaults: its module is
    ``verify.registry.<key>_impls`` (``-`` as ``_``), its package and distribution its key,
    its install the extra of that name."""
    packages = packages or (key,)
    return FrameworkSpec(
        key=key,
        module=f"verify.registry.{key.replace('-', '_')}_impls",
        packages=packages,
        distributions=distributions or packages,
        install=install or f"xent-conformance[{key}]",
        **fields,
    )


def _keras_on(backend: str, start_rank: int) -> FrameworkSpec:
    """Keras 3 on ``backend`` (``KERAS_BACKEND``), a framework other than TensorFlow: its
    names tagged ``[backend=<backend>]``, its GPU the backend's, one Keras backend a process."""
    return _framework(
        f"keras-{backend}",
        packages=("keras", backend),
        keras_tag=f"[backend={backend}]",
        gpu_probe=backend,
        exclusive_group="keras",
        start_rank=start_rank,
    )


#: every framework, in the order ``installed_frameworks()`` lists them
FRAMEWORKS: tuple[FrameworkSpec, ...] = (
    _framework("torch", name_prefixes=("torch",), gpu_probe="torch", start_rank=2),
    _framework(
        "jax",
        distributions=("jax", "jaxlib", "optax"),
        name_prefixes=("jax", "optax", "flax"),
        gpu_probe="jax",
        start_rank=0,
    ),
    _framework(
        "tensorflow",
        distributions=("tensorflow", "keras"),
        name_prefixes=("tf", "tensorflow"),
        keras_tag="",
        gpu_probe="tensorflow",
        exclusive_group="keras",
        start_rank=3,
    ),
    _framework("numpy", install=BASE_INSTALL, name_prefixes=("numpy",), start_rank=6),
    _framework("mlx", name_prefixes=("mlx",), gpu_probe="mlx", start_rank=5),
    _keras_on("jax", start_rank=1),
    _keras_on("torch", start_rank=4),
)

#: framework key -> its record
BY_KEY: dict[str, FrameworkSpec] = {spec.key: spec for spec in FRAMEWORKS}


def spec_of(framework: str) -> FrameworkSpec:
    """The record of ``framework`` (ValueError naming the known ones when there is none)."""
    if framework not in BY_KEY:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(BY_KEY)}")
    return BY_KEY[framework]


#: framework key -> module holding its entries
FRAMEWORK_MODULES: dict[str, str] = {spec.key: spec.module for spec in FRAMEWORKS}

#: framework key -> top-level packages that must be importable for its entries to load
FRAMEWORK_PACKAGES: dict[str, tuple[str, ...]] = {spec.key: spec.packages for spec in FRAMEWORKS}

#: framework key -> distributions whose versions are recorded when it ran
FRAMEWORK_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    spec.key: spec.distributions for spec in FRAMEWORKS
}

#: sets of frameworks of which one process can import at most one, because each fixes a
#: process-wide state differently: Keras's backend is chosen once per process, at the first
#: ``import keras`` (``tensorflow`` holds Keras on its TensorFlow backend).
PROCESS_EXCLUSIVE: tuple[frozenset[str], ...] = tuple(
    frozenset(spec.key for spec in FRAMEWORKS if spec.exclusive_group == group)
    for group in dict.fromkeys(s.exclusive_group for s in FRAMEWORKS if s.exclusive_group)
)

#: leading name components -> the framework whose module defines them
NAME_PREFIXES: dict[str, str] = {
    prefix: spec.key for spec in FRAMEWORKS for prefix in spec.name_prefixes
}

#: the tag a ``keras.*`` name ends with -> its framework (tagged backends only)
KERAS_BACKEND_TAGS: dict[str, str] = {
    spec.keras_tag: spec.key for spec in FRAMEWORKS if spec.keras_tag
}

#: the framework of the untagged ``keras.*`` names
KERAS_UNTAGGED: str = next(spec.key for spec in FRAMEWORKS if spec.keras_tag == "")


def start_order(frameworks: list[str]) -> list[str]:
    """``frameworks`` in the order their first worker starts (by ``start_rank``, then as
    listed): the slowest first, so that its extra workers join it while fast ones finish."""
    return sorted(frameworks, key=lambda fw: BY_KEY[fw].start_rank if fw in BY_KEY else LATE_START)


__all__ = [
    "BASE_INSTALL",
    "BY_KEY",
    "FRAMEWORKS",
    "FRAMEWORK_DISTRIBUTIONS",
    "FRAMEWORK_MODULES",
    "FRAMEWORK_PACKAGES",
    "KERAS_BACKEND_TAGS",
    "KERAS_UNTAGGED",
    "LATE_START",
    "NAME_PREFIXES",
    "PROCESS_EXCLUSIVE",
    "FrameworkSpec",
    "spec_of",
    "start_order",
]
