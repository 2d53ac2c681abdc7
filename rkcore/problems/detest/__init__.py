"""The non-stiff DETEST problems, classes A--E: 25 fixed initial value problems on ``[0, 20]``.

Sources.  The problem set is that of T. E. Hull, W. H. Enright, B. M. Fellen and A. E. Sedgwick,
"Comparing numerical methods for ordinary differential equations", SIAM J. Numer. Anal. 9 (1972)
603--637, as re-issued in the Toronto non-stiff test set of W. H. Enright and J. D. Pryce, "Two
FORTRAN packages for assessing initial value methods", ACM TOMS 13 (1987) 1--27 (Algorithm 648,
netlib ``toms/648``).  Every definition and initial value here follows that package's routines
``FCN`` (right-hand sides) and ``IVALU`` (initial values); its routine ``EVALU`` gives the "true"
end values that ``tests/test_detest.py`` checks the references against.  The F class (problems
with discontinuities) is left out: fixed-step scores over a discontinuity measure where the step
grid happens to fall, not the method.

=====  ===========================================  ===  ============
class  problems                                     dim  closed form
=====  ===========================================  ===  ============
A      single equations                             1    A1--A5
B      small systems (B5: Euler's rigid body)       2-3  B2--B5
C      moderate systems (C4: 51, C5: 30 equations)  10+  C1--C4
D      Kepler orbits, eccentricity 0.1 .. 0.9       4    D1--D5
E      second-order equations                       2    E1, E4, E5
=====  ===========================================  ===  ============

None is stiff.  :data:`DETEST_PROBLEMS` holds them in the order A1 .. E5; the problem set that
scores them is :data:`rkcore.problem_sets.DETEST`.
"""

from __future__ import annotations

from ..base import FixedProblem
from ._common import T_END
from .class_a import CLASS_A
from .class_b import CLASS_B
from .class_c import CLASS_C
from .class_d import CLASS_D
from .class_e import CLASS_E

DETEST_PROBLEMS: tuple[FixedProblem, ...] = (*CLASS_A, *CLASS_B, *CLASS_C, *CLASS_D, *CLASS_E)

__all__ = ["DETEST_PROBLEMS", "T_END"]
