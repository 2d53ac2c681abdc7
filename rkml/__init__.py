"""rkml: torch training of an explicit Runge--Kutta tableau generator.

Importing ``rkml`` does not import torch: profiles, run folders and the CLI's ``--help``
stay fast.  The training entry point is ``rkml.train.train(profile, run_dir, ...)``; it is
not re-exported here because ``rkml.train`` must stay the module (importing the submodule
would otherwise shadow a function of the same name).
"""

from __future__ import annotations

from .errors import ProfileError, RunExistsError, RunInterrupted, TrainingRejected
from .profile import (
    DatasetSection,
    ModelSection,
    ObjectiveSection,
    Profile,
    StageRange,
    TrainingSection,
    builtin_profiles,
    load_profile,
    resolve_profile,
)

__all__ = [
    "DatasetSection",
    "ModelSection",
    "ObjectiveSection",
    "Profile",
    "ProfileError",
    "RunExistsError",
    "RunInterrupted",
    "StageRange",
    "TrainingRejected",
    "TrainingSection",
    "builtin_profiles",
    "load_profile",
    "resolve_profile",
]

