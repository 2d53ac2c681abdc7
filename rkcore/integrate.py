"""Batched explicit Runge--Kutta integration of user ODEs: fixed step and embedded adaptive.

Both solvers integrate ``N`` independent ODEs ``y' = f(t, y; p)`` of dimension ``d``,
one row of ``y0`` (N, d) and of ``params`` (N, k) each, with a user right-hand side

.. code-block:: python

    @numba.njit
    def rhs(t, y, p, dydt):       # y (d,), p (k,), dydt (d,): 1-D float64 arrays
        dydt[0] = y[1]
        dydt[1] = p[0] * (1.0 - y[0] ** 2) * y[1] - y[0]

Write ``rhs`` for any 1-D float64 arrays (no explicit signature, or ``float64[:]``): it is
called on strided views of state-major blocks, so that the arithmetic of the method
vectorises across ODEs while ``rhs`` itself is inlined per ODE.

Block right-hand side
    For the speed of the built-in families, pass ``rhs=None`` and ``rhs_block=`` a function
    of a state-major block of ``m`` ODEs, the form the kernels call (``m`` varies between
    calls; the adaptive solver calls it with ``m = 1``):

    .. code-block:: python

        @numba.njit
        def rhs_block(t, Y, P, dY):   # Y (d, m), P (k, m), dY (d, m): C-contiguous float64
            for j in range(Y.shape[1]):
                dY[0, j] = Y[1, j]
                dY[1, j] = P[0, j] * (1.0 - Y[0, j] ** 2) * Y[1, j] - Y[0, j]

    The loop over ``j`` innermost vectorises across ODEs; a per-ODE ``rhs`` called on
    strided columns does not (it costs 1.3-2.6x the block form, see
    ``benchmarks/test_gates.py``).  It is checked like ``rhs``: probed on a block of the
    first three ODEs padded by rows before and after, it must write every entry of ``dY``
    and nothing outside it, and read no row of ``Y`` or ``P`` beyond ``d`` and ``k``.

Right-hand-side check
    Before integrating, ``rhs`` is compiled and called once on ``(t0, y0[0], params[0])``
    with arrays that carry hidden padding beyond ``d`` and ``k`` (numba does not check
    bounds, so an index error would otherwise read or write foreign memory silently).
    The padding of ``y`` and ``params`` is set to 0 and then to NaN, and ``dydt`` is
    pre-filled with two different sentinels: a derivative that changes with the padding
    means ``rhs`` reads beyond the arrays, a sentinel left in ``dydt[:d]`` means ``rhs``
    does not write every component, a changed sentinel in the padding means it writes
    beyond ``d``.  Each case is a one-line :class:`~rkcore.errors.RKInputError` naming the
    dimension.  Branches not taken at the first problem are not probed.

Blow-ups
    A trajectory whose state becomes non-finite or exceeds ``BLOWUP_FACTOR * (1 + max|y0|)``
    in absolute value (per ODE, checked after every accepted step) is stopped there and
    reported with status :data:`UNSTABLE` and a NaN final state; the other ODEs are not
    affected, and nothing is raised.  To that end ``rhs`` is recompiled from its Python
    source with numba's ``error_model="numpy"`` (its ``fastmath``/``boundscheck`` options
    kept): a division by zero gives inf/NaN instead of raising.  An exception that ``rhs``
    raises explicitly stops the whole call with an :class:`~rkcore.errors.RKInputError`.

Statuses: :data:`OK` (0), :data:`UNSTABLE` (1), :data:`MAX_STEPS` (2, adaptive only),
:data:`STEP_TOO_SMALL` (3, adaptive only).
"""

from __future__ import annotations

import math
import numbers
import weakref
from typing import NamedTuple

import numpy as np
from numba.core.dispatcher import Dispatcher

from .errors import RKInputError
from .tableau import Tableau

OK = 0
UNSTABLE = 1
MAX_STEPS = 2
STEP_TOO_SMALL = 3
STATUS_NAMES = {OK: "ok", UNSTABLE: "unstable", MAX_STEPS: "max_steps", STEP_TOO_SMALL: "step_too_small"}

BLOWUP_FACTOR = 1e10
"""A trajectory is unstable once ``max|y| > BLOWUP_FACTOR * (1 + max|y0|)``."""

MAX_BLOCK = 128
"""Most ODEs per block; see :func:`block_layout`."""

_BLOCK_BYTES = 32 * 1024
_PROBE_PAD = 4

__all__ = [
    "OK",
    "UNSTABLE",
    "MAX_STEPS",
    "STEP_TOO_SMALL",
    "STATUS_NAMES",
    "BLOWUP_FACTOR",
    "SolveResult",
    "AdaptiveResult",
    "solve_batch",
    "solve_batch_adaptive",
    "block_layout",
]


class SolveResult(NamedTuple):
    """Result of :func:`solve_batch`.

    Attributes
    ----------
    y : ndarray, shape (N, d)
        States at ``t1``; NaN rows for unstable trajectories.
    nfev : ndarray, shape (N,), int64
        Right-hand-side evaluations spent on each ODE (``s`` per step, ``s - 1`` after the
        first step for a first-same-as-last tableau).
    status : ndarray, shape (N,), int8
        :data:`OK` or :data:`UNSTABLE`.
    steps_taken : ndarray, shape (N,), int64
        Steps completed: ``n_steps``, or the step at which a blow-up stopped the ODE.
    """

    y: np.ndarray
    nfev: np.ndarray
    status: np.ndarray
    steps_taken: np.ndarray


class AdaptiveResult(NamedTuple):
    """Result of :func:`solve_batch_adaptive`.

    Attributes
    ----------
    y : ndarray, shape (N, d)
        States at ``t1``; NaN rows unless the status is :data:`OK`.
    nfev : ndarray, shape (N,), int64
        Right-hand-side evaluations, the automatic initial-step selection included.
    status : ndarray, shape (N,), int8
        :data:`OK`, :data:`UNSTABLE`, :data:`MAX_STEPS` or :data:`STEP_TOO_SMALL`.
    n_accepted, n_rejected : ndarray, shape (N,), int64
        Accepted and rejected steps.
    """

    y: np.ndarray
    nfev: np.ndarray
    status: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray


# ----------------------------------------------------------------------------- validation


def _check_tableau(tableau: Tableau) -> Tableau:
    if not isinstance(tableau, Tableau):
        raise RKInputError(f"tableau must be an rkcore.Tableau, got {type(tableau).__name__}")
    tableau.require_explicit()
    return tableau


def _float_matrix(value, field: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise RKInputError(f"{field} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise RKInputError(f"{field} must be 2-D (one row per ODE), got shape {arr.shape}")
    # A fresh writable copy: the kernels' signatures take mutable arrays, and callers' arrays
    # (dataset groups, broadcast views) may be read-only.
    arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise RKInputError(f"{field} has a non-finite value in row {row}; initial data must be finite")
    return arr


def _check_problems(y0, params) -> tuple[np.ndarray, np.ndarray]:
    y0 = _float_matrix(y0, "y0")
    if y0.shape[0] == 0 or y0.shape[1] == 0:
        raise RKInputError(f"y0 must have at least one row and one column, got shape {y0.shape}")
    if params is None:
        params = np.zeros((y0.shape[0], 0))
    params = _float_matrix(params, "params")
    if params.shape[0] != y0.shape[0]:
        raise RKInputError(
            f"params has {params.shape[0]} rows but y0 has {y0.shape[0]}; give one parameter row per ODE"
        )
    return y0, params


def _check_interval(t0, t1) -> tuple[float, float]:
    for name, v in (("t0", t0), ("t1", t1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise RKInputError(f"{name} must be a finite number, got {v!r}")
    if not t1 > t0:
        raise RKInputError(f"t1 = {t1!r} must be greater than t0 = {t0!r}")
    return float(t0), float(t1)


def _positive_int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise RKInputError(f"{field} must be a positive integer, got {value!r}")
    return int(value)


def blowup_bound(y0: np.ndarray) -> np.ndarray:
    """Per-ODE blow-up bound ``BLOWUP_FACTOR * (1 + max|y0|)``; ``y0`` (..., d) -> (...)."""
    return BLOWUP_FACTOR * (1.0 + np.max(np.abs(y0), axis=-1))


# ----------------------------------------------------------------------------- block layout


def block_layout(n: int, d: int, s: int, max_block: int = MAX_BLOCK) -> tuple[int, int]:
    """Blocks for ``n`` ODEs of dimension ``d`` under an ``s``-stage method.

    The block width ``m`` is at most ``max_block``, and small enough that the stage storage,
    ``(s + 3) * d * m`` doubles, stays within 32 KiB (the per-core L1 data cache) unless that
    would make it narrower than 16 (two AVX-512 registers of doubles: narrower blocks spend
    more time in loop overhead than they save in cache misses; measured on the d = 32
    families).  The ``n`` ODEs are spread evenly over the fewest such blocks, ``m`` rounded
    up to a multiple of 8 when above 8.

    Returns
    -------
    n_blocks, m : int
    """
    cap = min(max_block, max(16, _BLOCK_BYTES // (8 * d * (s + 3)) // 8 * 8))
    n_blocks = -(-n // cap)
    m = -(-n // n_blocks)
    if m > 8:
        m = min(cap, -(-m // 8) * 8)
        n_blocks = -(-n // m)
    return n_blocks, m


def to_blocks(x: np.ndarray, n_blocks: int, m: int) -> np.ndarray:
    """(n, k) rows -> (n_blocks, k, m) state-major blocks, padded by repeating the last row."""
    n, k = x.shape
    padded = np.empty((n_blocks * m, k))
    padded[:n] = x
    padded[n:] = x[n - 1]
    return np.ascontiguousarray(padded.reshape(n_blocks, m, k).transpose(0, 2, 1))


def from_blocks(xb: np.ndarray, n: int) -> np.ndarray:
    """(..., n_blocks, k, m) blocks -> (..., n, k) rows, padding dropped."""
    *lead, n_blocks, k, m = xb.shape
    rows = np.swapaxes(xb, -1, -2).reshape(*lead, n_blocks * m, k)
    return np.ascontiguousarray(rows[..., :n, :])


# ----------------------------------------------------------------------------- user rhs


# Compiled adaptors per user rhs (compiling one costs ~0.2 s), dropped with the user's function.
_adaptor_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _adaptors(user_rhs):
    """(block, probe) njit wrappers of a per-ODE ``rhs``; ``block`` has the kernels' signature.

    ``block`` calls ``rhs`` on the strided column views of a (d, m) block; inlined by LLVM, the
    loop over the ``m`` columns vectorises.  ``rhs`` is a recompilation of ``user_rhs`` with
    numpy's error model, so that a division by zero during a blow-up gives inf/NaN (then
    status UNSTABLE) instead of an exception inside the parallel kernel.
    """
    found = _adaptor_memo.get(user_rhs)
    if found is not None:
        return found
    from numba import njit

    from ._kernels import BLOCK_RHS_SIG

    options = {k: v for k, v in user_rhs.targetoptions.items() if k in ("fastmath", "boundscheck")}
    rhs = njit(error_model="numpy", **options)(user_rhs.py_func)

    def block(t, Y, P, dYdt):
        for j in range(Y.shape[1]):
            rhs(t, Y[:, j], P[:, j], dYdt[:, j])

    def probe(t, Y, P, dYdt, d, k):
        rhs(t, Y[:d, 0], P[:k, 0], dYdt[:d, 0])

    try:
        found = (njit(BLOCK_RHS_SIG)(block), njit(probe))
    except Exception as exc:  # numba raises many types (TypingError, LoweringError, ...)
        raise RKInputError(
            f"rhs cannot be compiled as rhs(t: float64, y, p, dydt: 1-D float64 arrays): {_first_line(exc)}"
        ) from None
    _adaptor_memo[user_rhs] = found
    return found


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def run_kernel(kernel, *args) -> None:
    """Call a kernel; an exception raised by the right-hand side inside it becomes an RKInputError.

    Numba cannot carry an exception out of a first-class function called in a parallel
    region cleanly: it surfaces as a ``SystemError`` whose cause is the original exception.
    (Division by zero does not raise in user right-hand sides, see :func:`_adaptors`.)
    """
    try:
        kernel(*args)
    except SystemError as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        raise RKInputError(
            f"rhs raised {_first_line(cause)} during the integration; return non-finite values instead "
            "of raising (they are reported as unstable)"
        ) from None


def _check_rhs(rhs, y0: np.ndarray, params: np.ndarray, t0: float):
    """Compile ``rhs`` and probe it on the first ODE (see the module docstring); return the block adaptor."""
    if not isinstance(rhs, Dispatcher):
        raise RKInputError(f"rhs must be a @numba.njit function rhs(t, y, p, dydt), got {type(rhs).__name__}")
    block, probe = _adaptors(rhs)
    d, k = y0.shape[1], params.shape[1]

    def call(y_pad: float, p_pad: float, fill: float) -> np.ndarray:
        # Two columns: the probe slices column 0, so the views are strided as in the kernels.
        Y = np.full((d + _PROBE_PAD, 2), y_pad)
        Y[:d, 0] = y0[0]
        P = np.full((k + _PROBE_PAD, 2), p_pad)
        P[:k, 0] = params[0]
        D = np.full((d + _PROBE_PAD, 2), fill)
        try:
            probe(t0, Y, P, D, d, k)
        except Exception as exc:
            raise RKInputError(f"rhs failed on (t0, y0[0], params[0]): {_first_line(exc)}") from None
        return D[:, 0]

    sentinel = -7.0e300
    first = call(0.0, 0.0, np.nan)
    second = call(0.0, 0.0, sentinel)
    unwritten = np.flatnonzero(np.isnan(first[:d]) & (second[:d] == sentinel))
    if unwritten.size:
        raise RKInputError(
            f"rhs leaves dydt[{unwritten[0]}] unset for y0 with d={d} columns; "
            "give y0 as many columns as the system has components"
        )
    beyond = np.flatnonzero(~np.isnan(first[d:]) | (second[d:] != sentinel))
    if beyond.size:
        raise RKInputError(
            f"rhs writes dydt[{d + beyond[0]}] but y0 has only d={d} columns; "
            "give y0 as many columns as the system has components"
        )
    if not np.array_equal(call(np.nan, 0.0, 0.0)[:d], second[:d], equal_nan=True):
        raise RKInputError(
            f"rhs reads y beyond its d={d} components (y0 has {d} columns); "
            "give y0 as many columns as the system has components"
        )
    if not np.array_equal(call(0.0, np.nan, 0.0)[:d], second[:d], equal_nan=True):
        raise RKInputError(
            f"rhs reads p beyond its k={k} entries (params has {k} columns); "
            "give params as many columns as rhs uses"
        )
    return block


_block_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_block(user_block):
    """``user_block`` recompiled for the kernels' signature with numpy's error model (memoised)."""
    found = _block_memo.get(user_block)
    if found is not None:
        return found
    from numba import njit

    from ._kernels import BLOCK_RHS_SIG

    options = {k: v for k, v in user_block.targetoptions.items() if k in ("fastmath", "boundscheck")}
    try:
        found = njit(BLOCK_RHS_SIG, error_model="numpy", **options)(user_block.py_func)
    except Exception as exc:  # numba raises many types (TypingError, LoweringError, ...)
        raise RKInputError(
            "rhs_block cannot be compiled as rhs_block(t: float64, Y, P, dY: 2-D C-contiguous float64 "
            f"arrays): {_first_line(exc)}"
        ) from None
    _block_memo[user_block] = found
    return found


def _check_rhs_block(rhs_block, y0: np.ndarray, params: np.ndarray, t0: float):
    """Compile ``rhs_block`` and probe it on a block of the first ODEs; return the compiled function.

    The (d, m) block is a C-contiguous window of a buffer with ``_PROBE_PAD`` rows before and
    after it (likewise P and dY), so that rows read or written outside the block are seen as in
    :func:`_check_rhs`: padding 0 then NaN for reads, two sentinels in dY for writes.
    """
    if not isinstance(rhs_block, Dispatcher):
        raise RKInputError(
            f"rhs_block must be a @numba.njit function rhs_block(t, Y, P, dY), got {type(rhs_block).__name__}"
        )
    block = _compiled_block(rhs_block)
    d, k = y0.shape[1], params.shape[1]
    rows = np.arange(3) % y0.shape[0]
    m = rows.size
    pad = _PROBE_PAD

    def window(values: np.ndarray, pad_value: float) -> tuple[np.ndarray, np.ndarray]:
        buf = np.full(((values.shape[0] + 2 * pad) * m,), pad_value)
        inner = buf[pad * m : (pad + values.shape[0]) * m].reshape(values.shape[0], m)
        inner[:] = values
        return buf, inner

    def call(y_pad: float, p_pad: float, fill: float) -> np.ndarray:
        _, Y = window(y0[rows].T, y_pad)
        _, P = window(params[rows].T, p_pad)
        D_buf, D = window(np.full((d, m), fill), fill)
        try:
            block(t0, Y, P, D)
        except Exception as exc:
            raise RKInputError(f"rhs_block failed on (t0, y0[:3], params[:3]): {_first_line(exc)}") from None
        return D_buf.reshape(d + 2 * pad, m)

    sentinel = -7.0e300
    first = call(0.0, 0.0, np.nan)
    second = call(0.0, 0.0, sentinel)
    inside = slice(pad, pad + d)
    unwritten = np.argwhere(np.isnan(first[inside]) & (second[inside] == sentinel))
    if unwritten.size:
        r, j = unwritten[0]
        raise RKInputError(
            f"rhs_block leaves dY[{r}, {j}] unset for y0 with d={d} columns; "
            "give y0 as many columns as the system has components"
        )
    outside = np.argwhere(~np.isnan(first) | (second != sentinel))
    outside = outside[(outside[:, 0] < pad) | (outside[:, 0] >= pad + d)]
    if outside.size:
        r = int(outside[0, 0]) - pad
        raise RKInputError(
            f"rhs_block writes dY row {r} but y0 has only d={d} columns (rows 0..{d - 1}); "
            "give y0 as many columns as the system has components"
        )
    if not np.array_equal(call(np.nan, 0.0, 0.0)[inside], second[inside], equal_nan=True):
        raise RKInputError(
            f"rhs_block reads Y beyond its d={d} rows (y0 has {d} columns); "
            "give y0 as many columns as the system has components"
        )
    if not np.array_equal(call(0.0, np.nan, 0.0)[inside], second[inside], equal_nan=True):
        raise RKInputError(
            f"rhs_block reads P beyond its k={k} rows (params has {k} columns); "
            "give params as many columns as rhs_block uses"
        )
    return block


def _user_block(rhs, rhs_block, y0, params, t0):
    """The kernels' block function from exactly one of ``rhs`` (per ODE) and ``rhs_block``."""
    if rhs_block is None:
        if rhs is None:
            raise RKInputError("give a right-hand side: rhs(t, y, p, dydt) or rhs_block=(t, Y, P, dY)")
        return _check_rhs(rhs, y0, params, t0)
    if rhs is not None:
        raise RKInputError("give either rhs or rhs_block, not both (pass rhs=None with rhs_block)")
    return _check_rhs_block(rhs_block, y0, params, t0)


def kernel_coefficients(tableaux_A: np.ndarray, tableaux_b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Writable contiguous (T, s, s), (T, s), (T, s) coefficient arrays and FSAL flags (T,)."""
    A = np.array(tableaux_A, dtype=np.float64, order="C")
    b = np.array(tableaux_b, dtype=np.float64, order="C")
    c = np.ascontiguousarray(A.sum(axis=2))
    s = A.shape[1]
    fsal = np.zeros(A.shape[0], dtype=np.int64)
    if s > 1:
        fsal[:] = np.all(A[:, -1, :] == b, axis=1) & (b[:, -1] == 0.0)
    return A, b, c, fsal


def evaluations_per_step(tableau: Tableau) -> int:
    """Right-hand-side evaluations per fixed step after the first: ``s``, or ``s - 1`` when FSAL."""
    return tableau.stages - 1 if tableau.is_fsal else tableau.stages


# ----------------------------------------------------------------------------- public solvers


def solve_batch(
    tableau: Tableau,
    rhs,
    y0,
    params,
    t0: float,
    t1: float,
    n_steps: int,
    *,
    rhs_block=None,
) -> SolveResult:
    """Integrate ``N`` ODEs from ``t0`` to ``t1`` with ``n_steps`` equal steps of an explicit method.

    Parameters
    ----------
    tableau : Tableau
        An explicit method (``b`` propagates the solution; ``b_hat`` is ignored).
    rhs : numba dispatcher, or None with ``rhs_block``
        ``rhs(t, y, p, dydt)`` for one ODE, see the module docstring.
    y0 : array_like, shape (N, d)
    params : array_like, shape (N, k), or None for ``k = 0``
    t0, t1 : float
        ``t1 > t0``.
    n_steps : int
        Number of steps, ``h = (t1 - t0) / n_steps``.
    rhs_block : numba dispatcher, optional
        ``rhs_block(t, Y, P, dY)`` on a state-major block, ``Y`` (d, m): the fast form (see
        the module docstring).  Give it instead of ``rhs``.

    Returns
    -------
    SolveResult
        ``y`` (N, d), ``nfev`` (N,), ``status`` (N,), ``steps_taken`` (N,).

    Raises
    ------
    RKInputError
        Implicit tableau, bad shapes or values, a non-numba ``rhs``/``rhs_block`` or one that
        does not fit the dimension of ``y0``/``params`` (one-line message).
    """
    tableau = _check_tableau(tableau)
    y0, params = _check_problems(y0, params)
    t0, t1 = _check_interval(t0, t1)
    n_steps = _positive_int(n_steps, "n_steps")
    block = _user_block(rhs, rhs_block, y0, params, t0)
    return _solve_fixed_blocks(tableau, block, y0, params, t0, t1, n_steps)


def _solve_fixed_blocks(tableau, rhs_block, y0, params, t0, t1, n_steps) -> SolveResult:
    from ._kernels import rk_fixed

    N, d = y0.shape
    s = tableau.stages
    n_blocks, m = block_layout(N, d, s)
    A, b, c, fsal = kernel_coefficients(tableau.A[None], tableau.b[None])
    Yb = to_blocks(y0, n_blocks, m)
    Pb = to_blocks(params, n_blocks, m)
    bound = np.ascontiguousarray(to_blocks(blowup_bound(y0)[:, None], n_blocks, m)[:, 0, :])
    Y_out = np.empty((1, n_blocks, d, m))
    steps = np.empty((1, n_blocks, m), dtype=np.int64)
    status = np.empty((1, n_blocks, m), dtype=np.int8)
    block_steps = np.full((1, n_blocks), n_steps, dtype=np.int64)
    run_kernel(rk_fixed, rhs_block, A, b, c, fsal, block_steps, Yb, Pb, bound, t0, t1, Y_out, steps, status)
    steps_taken = from_blocks(steps[:, :, None, :], N)[0, :, 0]
    return SolveResult(
        y=from_blocks(Y_out, N)[0],
        nfev=fixed_step_nfev(steps_taken, s, bool(fsal[0])),
        status=from_blocks(status[:, :, None, :], N)[0, :, 0],
        steps_taken=steps_taken,
    )


def fixed_step_nfev(steps: np.ndarray, s: int, fsal) -> np.ndarray:
    """Evaluations spent by ``steps`` fixed steps of an ``s``-stage method.

    ``fsal`` is a bool or a bool array broadcasting against ``steps`` (one flag per tableau).
    """
    steps = np.asarray(steps, dtype=np.int64)
    return steps * s - np.where(np.asarray(fsal, dtype=bool), np.maximum(steps - 1, 0), 0)


def _check_tolerance(value, field: str, d: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, bool) else np.asarray(np.nan)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != d):
        raise RKInputError(f"{field} must be a number or have d={d} entries, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise RKInputError(f"{field} must be positive and finite, got {value!r}")
    return np.array(np.broadcast_to(arr, (d,)), dtype=np.float64, order="C")


def _check_factor(value, field: str, lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise RKInputError(f"{field} must lie in {lb}{lo}, {hi}{rb}, got {value!r}")
    return float(value)


def error_estimate_order(tableau: Tableau) -> int:
    """``q = min(order of b, order of b_hat)``: the order of the local error estimate."""
    from .order import order

    if tableau.b_hat is None:
        raise RKInputError(
            f"tableau '{tableau.name or '?'}' has no b_hat; adaptive stepping needs an embedded pair"
        )
    q = min(order(tableau), order(tableau.replace(b=tableau.b_hat, b_hat=None)))
    if q < 1:
        raise RKInputError(
            f"tableau '{tableau.name or '?'}': the embedded pair has order {q}; an error estimate needs "
            "both b and b_hat of order >= 1"
        )
    return q


def solve_batch_adaptive(
    tableau: Tableau,
    rhs,
    y0,
    params,
    t0: float,
    t1: float,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    h0: float | None = None,
    safety: float = 0.9,
    fac_min: float = 0.2,
    fac_max: float = 5.0,
    max_steps: int = 100_000,
    *,
    rhs_block=None,
) -> AdaptiveResult:
    """Integrate ``N`` ODEs with an embedded pair and error-per-step control.

    The controller is the standard one of Hairer, Norsett & Wanner, *Solving ODEs I*,
    section II.4.  Each step advances with ``b`` (local extrapolation) and estimates the
    local error as ``e = h * sum_i (b_i - b_hat_i) k_i``; its size is the scaled RMS norm::

        err = sqrt( mean_i ( e_i / (atol_i + rtol_i * max(|y_i|, |y_new_i|)) )^2 )

    A step is accepted when ``err <= 1``.  The next step is
    ``h * min(fac_max, max(fac_min, safety * err^(-1/(q+1))))`` with ``q = min(p, p_hat)``
    the order of the estimate (from :func:`rkcore.order`); right after a rejection the step
    may not grow (``fac_max = 1`` for one step), a non-finite ``err`` rejects with
    ``fac_min``.  The last step is shortened to land on ``t1``.  The initial step is ``h0``
    or, when None, the automatic choice of section II.4 (costs one extra evaluation).
    FSAL pairs reuse their last stage.  A trajectory stops with status :data:`MAX_STEPS`
    after ``max_steps`` attempted steps and :data:`STEP_TOO_SMALL` when
    ``h < 16 * eps * max(|t|, |t1|)``.

    Parameters
    ----------
    tableau : Tableau
        Explicit, with ``b_hat``.
    rhs : numba dispatcher, or None with ``rhs_block``
        ``rhs(t, y, p, dydt)`` for one ODE (see :func:`solve_batch`).
    y0 : array_like, shape (N, d)
    params : array_like, shape (N, k), or None
    t0, t1 : float
    rtol, atol : float or array_like of shape (d,)
        Positive tolerances.
    h0 : float, optional
        Initial step in ``(0, t1 - t0]``.
    safety : float in (0, 1]
    fac_min : float in (0, 1)
    fac_max : float in (1, 100]
    max_steps : int
    rhs_block : numba dispatcher, optional
        The block form instead of ``rhs`` (see :func:`solve_batch`); called with ``m = 1``.

    Returns
    -------
    AdaptiveResult
        ``y`` (N, d), ``nfev``, ``status``, ``n_accepted``, ``n_rejected`` (N,).
    """
    tableau = _check_tableau(tableau)
    q = error_estimate_order(tableau)
    y0, params = _check_problems(y0, params)
    t0, t1 = _check_interval(t0, t1)
    d = y0.shape[1]
    rtol_v = _check_tolerance(rtol, "rtol", d)
    atol_v = _check_tolerance(atol, "atol", d)
    if h0 is None:
        h0_value = 0.0
    else:
        h0_value = _check_factor(h0, "h0", 0.0, t1 - t0, True, False)
    safety = _check_factor(safety, "safety", 0.0, 1.0, True, False)
    fac_min = _check_factor(fac_min, "fac_min", 0.0, 1.0, True, True)
    fac_max = _check_factor(fac_max, "fac_max", 1.0, 100.0, True, False)
    max_steps = _positive_int(max_steps, "max_steps")
    block = _user_block(rhs, rhs_block, y0, params, t0)
    return _solve_adaptive_rows(
        tableau, q, block, y0, params, t0, t1, rtol_v, atol_v, h0_value, safety, fac_min, fac_max, max_steps
    )


def _solve_adaptive_rows(
    tableau, q, rhs_block, y0, params, t0, t1, rtol, atol, h0, safety, fac_min, fac_max, max_steps
) -> AdaptiveResult:
    from ._kernels import rk_adaptive

    N, d = y0.shape
    A, b, c, fsal = kernel_coefficients(tableau.A[None], tableau.b[None])
    e = np.ascontiguousarray(b[0] - tableau.b_hat)
    y = np.empty((N, d))
    acc = np.empty(N, dtype=np.int64)
    rej = np.empty(N, dtype=np.int64)
    nfev = np.empty(N, dtype=np.int64)
    status = np.empty(N, dtype=np.int8)
    run_kernel(
        rk_adaptive,
        rhs_block, A[0], b[0], e, c[0], int(fsal[0]), 1.0 / (q + 1), y0, np.ascontiguousarray(params),
        blowup_bound(y0), t0, t1, rtol, atol, np.full(N, h0), safety, fac_min, fac_max, max_steps,
        y, acc, rej, nfev, status,
    )  # fmt: skip
    return AdaptiveResult(y=y, nfev=nfev, status=status, n_accepted=acc, n_rejected=rej)
