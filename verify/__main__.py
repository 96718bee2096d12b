"""``python -m verify``: see :mod:`verify.cli`."""

from verify.cli import main

if __name__ == "__main__":  # spawned worker processes import this module too
    raise SystemExit(main())
