"""Errors that the command line turns into exit status 2 (``docs/contract.md`` section 3).

A :class:`UsageError` is the user's to fix (an unknown implementation name, a module that does
not import, a bad option); its message is one line that says what to fix.  Anything else that
escapes is a bug of this project and is reported as such.
"""

from __future__ import annotations


class UsageError(Exception):
    """A mistake in how the suite was invoked; ``str(error)`` is a one-line fix-it message."""

    #: the process exit status the command line uses for it
    exit_status = 2

    def __init__(self, message: str) -> None:
        one_line = " ".join(str(message).split())
        super().__init__(one_line)
        self.message = one_line
