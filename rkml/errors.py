"""Exception types of rkml.

Bad input (a profile, an override, a run folder that is in the way) derives from
:class:`rkcore.errors.RKInputError`, so the CLI reports it as one line and exit code 1.
A training run that finishes without a valid result raises :class:`TrainingRejected`
(exit code 3; 2 is the usage-error status of click): the two are kept apart because the
second is not the user's typo.
"""

from __future__ import annotations

from rkcore.errors import RKInputError


class ProfileError(RKInputError):
    """A run profile (TOML file, ``--set`` override or value) that fails validation."""


class RunExistsError(RKInputError):
    """A run folder that already exists and may not be overwritten (use ``--resume`` or ``--force``)."""


class TrainingRejected(Exception):
    """Training finished but its tableau is not a valid result.

    For example it equals its initialisation, fails its claimed order, or does not beat
    the library methods with the same stage count.  Nothing is written as a result.
    """
