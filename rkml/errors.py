"""Exception types of rkml.

Bad input (a profile, an override, a run folder that is in the way) derives from
:class:`rkcore.errors.RKInputError`, so the CLI reports it as one line and exit code 1.
A training run that finishes without a valid result raises :class:`TrainingRejected`
(exit code 3; 2 is the usage-error status of click): the two are kept apart because the
second is not the user's typo.  A run stopped by SIGTERM raises :class:`RunInterrupted`, a
:class:`KeyboardInterrupt`.
"""

from __future__ import annotations

import signal

from rkcore.errors import RKInputError


class ProfileError(RKInputError):
    """A run profile (TOML file, ``--set`` override or value) that fails validation."""


class RunExistsError(RKInputError):
    """A run folder that already exists and may not be overwritten (use ``--resume`` or ``--force``)."""


class RunLockedError(RKInputError):
    """A run folder that another process is writing (its lock names the host and process id)."""


class TrainingRejected(Exception):
    """Training finished but its tableau is not a valid result.

    For example it equals its initialisation, fails its claimed order, or does not beat
    the library methods with the same stage count.  Nothing is written as a result.
    """


class RunInterrupted(KeyboardInterrupt):
    """A training run stopped by a signal other than Ctrl-C (SIGTERM: ``kill``, batch schedulers).

    A subclass of :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles this too; Ctrl-C
    itself stays a plain ``KeyboardInterrupt`` (exit code 130).

    Attributes
    ----------
    signal_name : str
        ``"SIGTERM"``.
    exit_code : int
        ``128 + signal number`` (143 for SIGTERM), the shell's convention for a run ended by it.
    """

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + int(signum)
        super().__init__(f"stopped by {self.signal_name}")
