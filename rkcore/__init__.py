"""rkcore: analysis and evaluation of Runge--Kutta methods (no torch needed).

Public API (each block is owned by one module; keep one source of truth):
"""

from __future__ import annotations

from .errors import RKInputError, TableauError
from .tableau import Tableau, load_tableau, save_tableau

__all__ = [
    "RKInputError",
    "TableauError",
    "Tableau",
    "load_tableau",
    "save_tableau",
]

# --- library (rkcore/library.py)
from .library import LIBRARY, method, methods  # noqa: E402

__all__ += ["LIBRARY", "method", "methods"]

# --- analysis (rkcore/order.py, rkcore/stability.py, rkcore/stability_batch.py, rkcore/stability_region.py)
from .analysis import Analysis, analyze, butcher_layout  # noqa: E402
from .order import (  # noqa: E402
    FailedCondition,
    elementary_weights,
    error_coefficients,
    first_failed_condition,
    order,
    order_batch,
    order_conditions,
    order_residuals_batch,
    principal_error_norm,
    stage_order,
)
from .plotting import plot_stability_regions  # noqa: E402
from .stability import (  # noqa: E402
    StabilityCoefficients,
    StabilityFigure,
    imaginary_stability_figure,
    imaginary_stability_interval,
    real_stability_figure,
    real_stability_interval,
    stability_function,
    stability_function_coefficients,
    stability_polynomial,
)
from .stability_batch import (  # noqa: E402
    StabilitySummary,
    imaginary_stability_interval_batch,
    real_stability_interval_batch,
    stability_grid,
    stability_polynomial_batch,
    stability_summary_batch,
)
from .stability_region import stability_area, stability_area_figure  # noqa: E402
from .trees import Tree, TreeTable, rooted_trees, tree_table, trees_of_order  # noqa: E402

__all__ += ["Tree", "TreeTable", "rooted_trees", "trees_of_order", "tree_table"]
__all__ += [
    "FailedCondition",
    "elementary_weights",
    "order_conditions",
    "order",
    "first_failed_condition",
    "stage_order",
    "error_coefficients",
    "principal_error_norm",
    "order_residuals_batch",
    "order_batch",
]
__all__ += [
    "StabilityCoefficients",
    "StabilityFigure",
    "StabilitySummary",
    "stability_polynomial",
    "stability_function",
    "stability_function_coefficients",
    "real_stability_interval",
    "imaginary_stability_interval",
    "real_stability_figure",
    "imaginary_stability_figure",
    "stability_area",
    "stability_area_figure",
    "stability_grid",
    "stability_polynomial_batch",
    "real_stability_interval_batch",
    "imaginary_stability_interval_batch",
    "stability_summary_batch",
]
__all__ += ["Analysis", "analyze", "butcher_layout", "plot_stability_regions"]

# --- evaluator (rkcore/problems, rkcore/datasets.py, rkcore/integrate.py, rkcore/metrics.py)
# problems and datasets (helper C)
from .datasets import Dataset, DatasetSpec, ProblemGroup, Split, make_dataset, resolve_cache_dir  # noqa: E402
from .problems import FAMILIES, Family, get_family  # noqa: E402
from .problems.base import FixedProblem  # noqa: E402

__all__ += ["FAMILIES", "Family", "get_family"]
# fixed benchmark sets for reporting (DETEST), scored like a split, never trained on
from .problem_sets import PROBLEM_SETS, ProblemSet, detest_problems, get_problem_set  # noqa: E402

__all__ += ["FixedProblem", "ProblemSet", "PROBLEM_SETS", "get_problem_set", "detest_problems"]
__all__ += ["Dataset", "DatasetSpec", "ProblemGroup", "Split", "make_dataset", "resolve_cache_dir"]
# integrator, scoring and metrics (helper D).  The function rkcore.evaluate.evaluate is not
# re-exported: the name rkcore.evaluate stays the module.
from .evaluate import Evaluation, PreparedSplit, TableauScores, prepare_split, score_tableaux  # noqa: E402
from .integrate import AdaptiveResult, SolveResult, solve_batch, solve_batch_adaptive  # noqa: E402
from .metrics import ScoreCard, Weights  # noqa: E402

__all__ += ["solve_batch", "solve_batch_adaptive", "SolveResult", "AdaptiveResult"]
__all__ += ["score_tableaux", "prepare_split", "PreparedSplit", "TableauScores", "Evaluation"]
__all__ += ["ScoreCard", "Weights"]
from .calibration import ScoringPlan, make_plan  # noqa: E402

__all__ += ["ScoringPlan", "make_plan"]
