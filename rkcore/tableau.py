"""The Butcher tableau value type and its JSON form.

A :class:`Tableau` is the single representation of a Runge--Kutta method in this
project.  It is frozen and validated when it is built: anything that exists is a
well-formed tableau (square ``A``, matching ``b``/``c``/``b_hat``, finite values,
``c`` equal to the row sums of ``A``).  Explicitness is a derived fact, not a
requirement: implicit tableaux can be analysed, explicit steppers refuse them.

JSON form (read by :func:`load_tableau`, written by :func:`save_tableau`)::

    {"name": "rk4", "A": [[...], ...], "b": [...], "c": [...], "b_hat": [...]}

``b_hat`` is optional; extra keys (``"order"``, ``"source"``, ...) are kept in
:attr:`Tableau.info` and written back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import RKInputError, TableauError
from .fileio import atomic_write_text

ROW_SUM_TOL = 1e-12
_CORE_KEYS = ("name", "A", "b", "c", "b_hat")


def _as_readonly(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64, copy=True)
    x.setflags(write=False)
    return x


def _to_float_array(value: Any, field: str, ndim: int) -> np.ndarray:
    """Convert a (possibly nested) sequence to float64, with field-named errors."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TableauError(f"field '{field}' has dtype {value.dtype}; expected real numbers")
        arr = value.astype(np.float64)
        if arr.ndim != ndim:
            raise TableauError(f"field '{field}' must be {ndim}-dimensional, got shape {arr.shape}")
        return arr
    if ndim == 1:
        return np.array(_float_row(value, field), dtype=np.float64)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TableauError(f"field '{field}' must be a list of rows (list of lists of numbers)")
    rows = [_float_row(row, f"{field}[{i}]") for i, row in enumerate(value)]
    if rows:
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise TableauError(
                    f"field '{field}' is ragged: row {i} has {len(row)} entries, row 0 has {width}; "
                    "every row of A must have s entries"
                )
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 0)


def _float_row(value: Any, field: str) -> list[float]:
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TableauError(f"field '{field}' must be a list of numbers, got {type(value).__name__}")
    out = []
    for j, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TableauError(f"field '{field}' entry {j} is {v!r}, not a number")
        try:
            out.append(float(v))
        except OverflowError:
            raise TableauError(f"field '{field}' entry {j} is too large for a float64") from None
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Tableau:
    """A Runge--Kutta method given by its Butcher tableau.

    Parameters
    ----------
    A : array_like, shape (s, s)
        Stage coefficients.
    b : array_like, shape (s,)
        Weights of the propagated solution.
    c : array_like, shape (s,), optional
        Abscissae; must equal the row sums of ``A``.  Derived when omitted.
    b_hat : array_like, shape (s,), optional
        Weights of an embedded method (error estimator).
    name : str
        Human-readable name.
    info : mapping
        Extra metadata kept verbatim in the JSON form (``order``, ``source``...).

    Raises
    ------
    TableauError
        One-line message naming the field at fault.
    """

    A: np.ndarray
    b: np.ndarray
    c: np.ndarray | None = None
    b_hat: np.ndarray | None = None
    name: str = ""
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        A = _to_float_array(self.A, "A", 2)
        s = A.shape[0]
        if s == 0 or A.shape != (s, s):
            raise TableauError(f"field 'A' must be a non-empty square s x s matrix, got shape {A.shape}")
        b = _to_float_array(self.b, "b", 1)
        if b.shape != (s,):
            raise TableauError(f"field 'b' must have s={s} entries (one per stage), got {b.shape[0]}")
        if self.c is None:
            c = A.sum(axis=1)
        else:
            c = _to_float_array(self.c, "c", 1)
            if c.shape != (s,):
                raise TableauError(f"field 'c' must have s={s} entries, got {c.shape[0]}")
        b_hat = None
        if self.b_hat is not None:
            b_hat = _to_float_array(self.b_hat, "b_hat", 1)
            if b_hat.shape != (s,):
                raise TableauError(f"field 'b_hat' must have s={s} entries, got {b_hat.shape[0]}")
        for field, arr in (("A", A), ("b", b), ("c", c), ("b_hat", b_hat)):
            if arr is not None and not np.all(np.isfinite(arr)):
                idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                raise TableauError(
                    f"field '{field}' has a non-finite value {float(arr[idx])} at index {list(idx)}; "
                    "all coefficients must be finite numbers"
                )
        row_sums = A.sum(axis=1)
        for i in range(s):
            if abs(row_sums[i] - c[i]) > ROW_SUM_TOL * max(1.0, abs(c[i])):
                raise TableauError(
                    f"field 'c' row {i}: c[{i}] = {float(c[i])!r} but row {i} of A sums to "
                    f"{float(row_sums[i])!r}; "
                    "c must equal the row sums of A (omit c to derive it)"
                )
        if not isinstance(self.name, str):
            raise TableauError(f"field 'name' must be a string, got {type(self.name).__name__}")
        info = dict(self.info or {})
        for key in _CORE_KEYS:
            info.pop(key, None)
        object.__setattr__(self, "A", _as_readonly(A))
        object.__setattr__(self, "b", _as_readonly(b))
        object.__setattr__(self, "c", _as_readonly(c))
        object.__setattr__(self, "b_hat", None if b_hat is None else _as_readonly(b_hat))
        # A read-only view: library constants are shared values and must not be edited in place.
        object.__setattr__(self, "info", MappingProxyType(info))

    # ---------------------------------------------------------------- derived facts
    @property
    def stages(self) -> int:
        """Number of stages ``s``."""
        return int(self.A.shape[0])

    @property
    def is_explicit(self) -> bool:
        """True when ``A`` is strictly lower triangular."""
        return bool(np.all(np.triu(self.A) == 0.0))

    @property
    def is_fsal(self) -> bool:
        """First-same-as-last: the last stage is the new solution (last row of A equals b, c_s = 1)."""
        return bool(self.is_explicit and self.stages > 1 and np.array_equal(self.A[-1], self.b))

    @property
    def has_embedded(self) -> bool:
        """True when an embedded weight vector ``b_hat`` is present."""
        return self.b_hat is not None

    @property
    def stated_order(self) -> int | None:
        """The order recorded in ``info['order']`` (a claim, verified by :func:`rkcore.order`)."""
        val = self.info.get("order")
        return int(val) if isinstance(val, (int, float)) and not isinstance(val, bool) else None

    def require_explicit(self) -> None:
        """Raise :class:`TableauError` unless the tableau is explicit."""
        if not self.is_explicit:
            i, j = (int(k) for k in np.argwhere(np.triu(self.A) != 0.0)[0])
            raise TableauError(
                f"tableau '{self.name or '?'}' is implicit (A[{i}][{j}] = {float(self.A[i, j])!r} is on or "
                "above the diagonal); the explicit stepper needs a strictly lower-triangular A"
            )

    # ---------------------------------------------------------------- conversions
    def replace(self, **changes: Any) -> Tableau:
        """A validated copy with some fields changed (``c`` is re-derived when ``A`` changes)."""
        if "A" in changes and "c" not in changes:
            changes["c"] = None
        return dataclasses.replace(self, **changes)

    def equals(self, other: Tableau, tol: float = 0.0) -> bool:
        """Coefficient-wise comparison of ``A``, ``b``, ``c`` and ``b_hat`` within ``tol``."""
        if self.stages != other.stages or (self.b_hat is None) != (other.b_hat is None):
            return False
        pairs = [(self.A, other.A), (self.b, other.b), (self.c, other.c)]
        if self.b_hat is not None:
            pairs.append((self.b_hat, other.b_hat))
        return all(np.max(np.abs(x - y)) <= tol for x, y in pairs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``name``, ``A``, ``b``, ``c``, optional ``b_hat``, then extra keys."""
        out: dict[str, Any] = {
            "name": self.name,
            "A": self.A.tolist(),
            "b": self.b.tolist(),
            "c": self.c.tolist(),
        }
        if self.b_hat is not None:
            out["b_hat"] = self.b_hat.tolist()
        for key, val in self.info.items():
            out[key] = val
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "tableau") -> Tableau:
        """Build a tableau from its JSON form; errors name ``source`` and the field."""
        if not isinstance(data, Mapping):
            raise TableauError(
                f"{source}: expected a JSON object with keys A, b, c; got {type(data).__name__}"
            )
        missing = [k for k in ("A", "b") if k not in data]
        if missing:
            raise TableauError(f"{source}: missing field '{missing[0]}' (a tableau needs at least A and b)")
        name = data.get("name", "")
        info = {k: v for k, v in data.items() if k not in _CORE_KEYS}
        try:
            return cls(
                A=data["A"],
                b=data["b"],
                c=data.get("c"),
                b_hat=data.get("b_hat"),
                name=name if isinstance(name, str) else str(name),
                info=info,
            )
        except TableauError as exc:
            raise TableauError(f"{source}: {exc}") from None

    def __repr__(self) -> str:
        extra = ", embedded" if self.has_embedded else ""
        kind = "explicit" if self.is_explicit else "implicit"
        return f"Tableau(name={self.name!r}, stages={self.stages}, {kind}{extra})"


def load_tableau(path: str | os.PathLike) -> Tableau:
    """Read a tableau from a JSON file.

    Raises
    ------
    RKInputError
        On a missing/unreadable file, invalid JSON or an invalid tableau; the message is one line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RKInputError(f"{path}: no such file; pass the path of a tableau JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RKInputError(f"{path}: cannot read file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise RKInputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise TableauError(f"{path}: {exc}") from None
    return Tableau.from_dict(data, source=str(path))


def _reject_constant(name: str) -> float:
    raise ValueError(f"the JSON contains {name}; all coefficients must be finite numbers")


def save_tableau(tableau: Tableau, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``tableau`` in its JSON form, atomically.  With ``overwrite=False`` refuse an existing file."""
    path = Path(path)
    if not overwrite and path.exists():
        raise RKInputError(f"{path}: file exists; choose another path or allow overwriting")
    data = tableau.to_dict()
    for key, val in data.items():
        if isinstance(val, float) and not np.isfinite(val):
            raise TableauError(f"info field '{key}' is {val}; JSON cannot hold non-finite numbers")
    try:
        text = json.dumps(data, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TableauError(
            f"tableau '{tableau.name}': an info field cannot be written as JSON ({exc}); "
            "keep info values to finite numbers, strings, lists and dicts"
        ) from None
    return atomic_write_text(path, text + "\n")
