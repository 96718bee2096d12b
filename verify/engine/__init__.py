"""The check engine: what every check is built from, apart from the checks themselves.

- :mod:`verify.engine.outcome` -- calling an implementation or the reference, and the
  :class:`~verify.engine.outcome.Verdict` of one example;
- :mod:`verify.engine.search` -- the seeded Hypothesis search with a shrink budget that folds
  verdicts into one :class:`~verify.results.Result` with a reproducer;
- :mod:`verify.engine.agreement` -- two implementations (or two calls) against each other;
- :mod:`verify.engine.value_and_gradient` -- forward and gradient judged on one drawn case.

The checks (``verify.checks``, one module per report category) compose these pieces.
"""
