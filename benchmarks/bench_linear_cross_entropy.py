"""``linear_cross_entropy``: the projection to the vocabulary fused with the loss.

Parameterised over the registry's ``linear_cross_entropy`` entries, which for PyTorch are the
reference path (``options=None``: ``linear`` then ``cross_entropy``, materialising the
(N, vocabulary) logits) and the chunked path (``options=torch.nn.LinearCrossEntropyOptions()``,
which never holds all the logits at once); see
https://docs.pytorch.org/docs/main/generated/torch.nn.functional.linear_cross_entropy.html.
Shapes are N x hidden x vocabulary: 2048 x 512 x 32000 everywhere, and the LLM head
8192 x 4096 x 128256 on GPUs with ``XENT_BENCH_FULL=1`` (on a CPU it is hours of matmul).
The interesting figures are time and, above all, peak memory: the chunked path exists to cut
the logits' N x vocabulary footprint.
"""

from __future__ import annotations

from benchmarks import grid, parameters
from benchmarks.prepared_call import PASSES, _CallGpuMemory, _CallHostMemory, _CallTime
from verify.ops import FUSED_LINEAR

NAMES = tuple(parameters.implementation_names(FUSED_LINEAR))
#: without XENT_BENCH_FULL=1: float32, forward and backward together (the pass the chunked
#: path exists for), and the GPU shape only where a GPU is present
DTYPES = grid.dtypes()
LINEAR_PASSES = PASSES if parameters.full_mode() else ("forward_backward",)
DEVICES = grid.devices()
SHAPES = (
    parameters.LINEAR_SHAPES
    if parameters.full_mode() or grid.gpu_present()
    else (parameters.LINEAR_CPU,)
)


class LinearCrossEntropyTime(_CallTime):
    """Wall time of one call (forward, or forward and backward), device synchronised."""

    params = (NAMES, LINEAR_PASSES, DTYPES, SHAPES, DEVICES)


class LinearCrossEntropyHostMemory(_CallHostMemory):
    """CPU memory: asv's process peak RSS, and the RSS growth during the call alone."""

    params = (NAMES, LINEAR_PASSES, DTYPES, (parameters.LINEAR_CPU,), ("cpu",))


class LinearCrossEntropyGpuMemory(_CallGpuMemory):
    """GPU peak memory allocated during one call."""

    params = (
        NAMES if grid.gpu_present() or parameters.full_mode() else NAMES[:1],
        LINEAR_PASSES,
        DTYPES,
        parameters.LINEAR_SHAPES,
        ("cuda",),
    )
