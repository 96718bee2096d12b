"""The judging stage: does one returned value conform?

Everything that decides pass or fail for a single comparison lives here, apart from the search
that drives it (``verify.engine``) and the checks that choose what to compare
(``verify.checks``):

- :mod:`verify.judge.ulp` -- floating-point formats and errors in units in the last place;
- :mod:`verify.judge.error_tracking` -- running error analysis (value plus rigorous bound);
- :mod:`verify.judge.tolerance` -- the error model of each op: the bound a careful
  implementation stays within (``docs/tolerances.md``);
- :mod:`verify.judge.reference_values` -- the correctly rounded reference for a case;
- :mod:`verify.judge.input_pattern` -- what is special about a case's inputs;
- :mod:`verify.judge.severity` -- how bad a non-conformance is (the severity classes);
- :mod:`verify.judge.compare` -- one returned array against the reference, under the bound.
"""
