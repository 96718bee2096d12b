"""asv benchmark suite of xent-conformance: speed, memory, bandwidth and accuracy.

Every benchmark class is parameterised over the entries of ``verify.registry`` (one class per
measurement, never one per framework), so a new registry entry is benchmarked without touching
this package.  The modules named ``bench_*`` hold the benchmarks; the other modules are the
helpers they share (parameters, seeded inputs, memory probes, byte counts).  How to run it and
what each benchmark measures: ``docs/benchmarks.md``.
"""
