"""Exception types shared by rkcore, rkml and the CLI.

Every error a user can provoke with bad input derives from :class:`RKInputError`
(a ``ValueError``), whose message is one line naming the offending field and the
fix.  The CLI turns these into a one-line message and a non-zero exit code.
"""

from __future__ import annotations


class RKInputError(ValueError):
    """Bad user input: a malformed tableau, file, option or profile."""


class TableauError(RKInputError):
    """A Butcher tableau that fails validation (shape, finiteness, row sums...)."""
