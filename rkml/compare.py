"""Compare finished runs: a Markdown + self-contained HTML report with tables, plots and a guard.

``compare(run_dirs, out_dir)`` reads each run folder (manifest, headline and per-stage
tableaux, metrics, training history), recomputes every figure it shows from the tableaux
themselves (order, error norm, stability limits: the files' claims are checked, never
trusted), evaluates all learned tableaux and the library methods on one common dataset
that no run trained on, and writes ``index.md``, ``index.html``, every figure as PNG and SVG,
every table as CSV and LaTeX (``table-NN-*``) and every learned tableau as CSV and a
decimal-aligned LaTeX ``tabular`` (``butcher-NN-*``).

The guard exists because of the seed document: five runs that were meant to differ and
silently produced the same tableau.  Any of these is an ERROR at the top of the report
(and, with ``strict``, a :class:`GuardError` after the report is written):

* two runs whose profiles differ (different profile hash) but whose tableaux with the same
  stage count are equal to :data:`EQUAL_TOL`;
* a run whose tableau equals its initialisation;
* a run whose manifest's ``profile_hash`` is not the hash of the profile it records (or
  whose ``tableau.json`` names another hash);
* a tableau whose verified order is below the order it claims.

Folders that cannot be compared (not a run, still running, failed, truncated manifest) are
each reported in one line naming the folder; the report covers the remaining runs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import rkcore
from rkcore.datasets import DatasetSpec
from rkcore.errors import RKInputError
from rkcore.fileio import atomic_write_text

from . import compare_eval as ce
from . import compare_summary as cs
from . import report as rp
from . import runs
from .profile import Profile

__all__ = [
    "EQUAL_TOL",
    "CompareResult",
    "Finding",
    "GuardError",
    "RunFolderError",
    "RunRecord",
    "compare",
    "guard",
    "load_run",
    "profile_rows",
]

#: Two tableaux closer than this in every coefficient are "the same result".
EQUAL_TOL = 1e-12
_STAGE_FILE = re.compile(r"^tableau-s(\d+)\.json$")
_INIT_FILE = re.compile(r"^init-s(\d+)\.json$")


class RunFolderError(RKInputError):
    """A folder given to ``compare`` that holds no comparable run (one line naming it)."""


class GuardError(Exception):
    """``strict`` comparison found guard errors; ``result`` is the report that was written."""

    def __init__(self, message: str, result: CompareResult) -> None:
        super().__init__(message)
        self.result = result


# ----------------------------------------------------------------- loading runs


@dataclasses.dataclass(frozen=True, eq=False)
class RunRecord:
    """A finished run, as read from its folder.

    Attributes
    ----------
    path : Path
    manifest : dict
        The parsed ``manifest.json``.
    profile : Profile
        ``Profile.from_dict(manifest["profile"])``.
    tableau : Tableau
        The headline tableau (``tableau.json``).
    stage_tableaux : mapping of int to Tableau
        ``tableau-s{N}.json`` per stage count (the headline's own count always present).
    initial : mapping of int to Tableau
        The initialisation per stage count, where the run recorded it (``init-s{N}.json`` or
        ``metrics.json``'s ``stages.<s>.initialisation_tableau``).
    metrics, history : dict or None
        ``metrics.json`` and ``history.json`` (training curves per stage count), where present.
    """

    path: Path
    manifest: dict[str, Any]
    profile: Profile
    tableau: rkcore.Tableau
    stage_tableaux: Mapping[int, rkcore.Tableau]
    initial: Mapping[int, rkcore.Tableau]
    metrics: dict[str, Any] | None
    history: dict[str, Any] | None

    @property
    def label(self) -> str:
        """The run folder's name (``<profile>-<seed>-<short hash>``)."""
        return self.path.name


def _read_json(path: Path, folder: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{folder}: cannot read {path.name}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{folder}: {path.name} is not valid JSON (truncated?): {exc.msg}") from None


def _load_tableau(path: Path, folder: Path) -> rkcore.Tableau:
    try:
        return rkcore.load_tableau(path)
    except RKInputError as exc:
        raise RunFolderError(f"{folder}: {path.name} is not a valid tableau: {exc}") from None


def load_run(path: str | os.PathLike) -> RunRecord:
    """Read a finished run folder.

    Raises
    ------
    RunFolderError
        One line naming the folder: not a folder, not a run, truncated manifest, a run still
        in progress or failed, a missing or invalid tableau, an invalid recorded profile.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a folder; pass run folders such as runs/<profile>-<seed>-<hash>")
    if not runs.is_run_dir(folder):
        raise RunFolderError(f"{folder}: not a run folder (no {runs.MANIFEST_NAME})")
    try:
        manifest = runs.read_manifest(folder)
    except RKInputError as exc:
        raise RunFolderError(str(exc)) from None
    status = manifest.get("status")
    if status in ("running", "interrupted"):
        raise RunFolderError(
            f"{folder}: run still in progress (status '{status}'); finish or resume it first"
        )
    if status != "complete":
        reason = " ".join(str(manifest.get("reason", "")).split())
        why = f"status {status!r}: {reason}" if reason else f"status {status!r}"
        raise RunFolderError(f"{folder}: run has no result ({why}); nothing to compare")
    if not (folder / "tableau.json").is_file():
        raise RunFolderError(f"{folder}: no tableau.json although the manifest says complete; rerun it")
    try:
        profile = Profile.from_dict(manifest.get("profile"), source=f"{folder}/manifest.json")
    except RKInputError as exc:
        raise RunFolderError(f"{folder}: recorded profile is invalid: {exc}") from None
    tableau = _load_tableau(folder / "tableau.json", folder)
    stage_tableaux: dict[int, rkcore.Tableau] = {}
    initial: dict[int, rkcore.Tableau] = {}
    for file in sorted(folder.iterdir()):
        if m := _STAGE_FILE.match(file.name):
            stage_tableaux[int(m.group(1))] = _load_tableau(file, folder)
        elif m := _INIT_FILE.match(file.name):
            initial[int(m.group(1))] = _load_tableau(file, folder)
    stage_tableaux.setdefault(tableau.stages, tableau)
    metrics = _read_json(folder / "metrics.json", folder) if (folder / "metrics.json").is_file() else None
    for s, data in _recorded_initialisations(metrics):
        if s not in initial:
            try:
                initial[s] = rkcore.Tableau.from_dict(data, source=f"{folder}/metrics.json initialisation")
            except RKInputError as exc:
                raise RunFolderError(f"{folder}: {exc}") from None
    history = _read_json(folder / "history.json", folder) if (folder / "history.json").is_file() else None
    return RunRecord(folder, manifest, profile, tableau, stage_tableaux, initial, metrics, history)


def _recorded_initialisations(metrics: Any) -> list[tuple[int, Any]]:
    """``(stages, tableau dict)`` of the initialisations ``rkml train`` stores in ``metrics.json``
    (``stages.<s>.initialisation_tableau``)."""
    if not isinstance(metrics, Mapping) or not isinstance(metrics.get("stages"), Mapping):
        return []
    return [
        (int(key), entry["initialisation_tableau"])
        for key, entry in metrics["stages"].items()
        if str(key).isdigit() and isinstance(entry, Mapping) and "initialisation_tableau" in entry
    ]


# ----------------------------------------------------------------- the guard


@dataclasses.dataclass(frozen=True)
class Finding:
    """One guard error: ``kind`` is ``identical``, ``initialisation``, ``hash`` or ``order``."""

    kind: str
    message: str


def guard(records: Sequence[RunRecord], tol: float = EQUAL_TOL) -> tuple[Finding, ...]:
    """The guard errors among ``records`` (module docstring), in a stable order."""
    found: list[Finding] = []
    for r in records:
        found += _own_findings(r, tol)
    for i, a in enumerate(records):
        for b in records[i + 1 :]:
            if a.profile.hash() == b.profile.hash():
                continue  # two copies of one run (or one profile and seed) may well agree
            for s in sorted(set(a.stage_tableaux) & set(b.stage_tableaux)):
                # Only where one of them is a headline: a side stage count may legitimately agree
                # (4 stages, order 4: every candidate has the same stability polynomial and, at
                # w = s = 4 evaluations, equal-work efficiency equals accuracy, so weightings that
                # differ only there rank every candidate alike and the search takes the same path).
                if s not in (a.tableau.stages, b.tableau.stages):
                    continue
                if a.stage_tableaux[s].equals(b.stage_tableaux[s], tol):
                    message = (
                        f"{a.label} and {b.label}: different profiles, identical {s}-stage tableaux "
                        f"(to {tol:g}); the profiles did not reach training"
                    )
                    found.append(Finding("identical", message))
    return tuple(found)


def _own_findings(r: RunRecord, tol: float) -> list[Finding]:
    """Guard errors of one run on its own: hashes, initialisation, claimed order."""
    found = []
    recorded = str(r.manifest.get("profile_hash"))
    actual = r.profile.hash()
    if recorded != actual:
        message = (
            f"{r.label}: manifest profile_hash {recorded[:12]}... is not the hash of its recorded "
            f"profile ({actual[:12]}...); the manifest was edited or written by another profile"
        )
        found.append(Finding("hash", message))
    claimed = r.tableau.info.get("profile_hash")
    if claimed is not None and claimed != recorded:
        message = (
            f"{r.label}: tableau.json belongs to profile {str(claimed)[:12]}..., "
            f"the manifest to {recorded[:12]}...; the folder mixes two runs"
        )
        found.append(Finding("hash", message))
    for s, t in sorted(r.stage_tableaux.items()):
        init = r.initial.get(s)
        if init is not None and t.equals(init, tol):
            message = (
                f"{r.label}: the {s}-stage tableau equals its initialisation (to {tol:g}); "
                "training did not move it"
            )
            found.append(Finding("initialisation", message))
        claim = t.stated_order
        verified = rkcore.order(t)
        if claim is not None and verified < claim:
            message = f"{r.label}: the {s}-stage tableau claims order {claim} but verifies order {verified}"
            found.append(Finding("order", message))
    return found


# ----------------------------------------------------------------- the key-differences table


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = ", ".join(str(v) for v in value) if value else "(none)"
        else:
            out[name] = str(value)
    return out


#: Rows that name a run rather than set it up: always different, never marked.
IDENTITY_ROWS = ("name", "description", "profile hash")


def profile_rows(
    records: Sequence[RunRecord],
) -> tuple[tuple[str, ...], tuple[tuple[str | rp.Cell, ...], ...]]:
    """Header and rows of the key-differences table: every ``section.key`` × run.

    Only the cells that differ are marked: in a row whose values are not all equal, the cells
    whose value differs from the row's most common value (every value cell when no value is
    shared by two runs), and the key cell.  The identity rows (:data:`IDENTITY_ROWS`: name,
    description, profile hash) differ between any two profiles and are never marked.
    """
    flat = [_flatten(r.profile.to_dict()) for r in records]
    for f, r in zip(flat, records, strict=False):
        f["profile hash"] = r.profile.short_hash()
    keys: list[str] = []
    for f in flat:
        keys += [k for k in f if k not in keys]
    rows = []
    for key in keys:
        values = [f.get(key, "–") for f in flat]
        differs = len(records) > 1 and len(set(values)) > 1 and key not in IDENTITY_ROWS
        counts = {v: values.count(v) for v in values}
        common = max(counts, key=counts.get)
        shared = counts[common] > 1 and list(counts.values()).count(counts[common]) == 1
        cells = [rp.Cell(v, differs and (not shared or v != common)) for v in values]
        rows.append((rp.Cell(key, differs), *cells))
    return ("setting", *(r.label for r in records)), tuple(rows)


# ----------------------------------------------------------------- compare


@dataclasses.dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` wrote and found.

    Attributes
    ----------
    out_dir : Path
    files : tuple of Path
        ``index.md``, ``index.html``, the PNG and SVG figures and the CSV / LaTeX tables.
    runs : tuple of RunRecord
        The runs in the report.
    rejected : tuple of str
        One line per folder that could not be compared.
    errors : tuple of Finding
        Guard errors (empty when the comparison is sound).
    """

    out_dir: Path
    files: tuple[Path, ...]
    runs: tuple[RunRecord, ...]
    rejected: tuple[str, ...]
    errors: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def _resolve_methods(methods: Sequence[str] | None, records: Sequence[RunRecord]) -> list[rkcore.Tableau]:
    """Library methods to compare against: the given names, else every explicit one with a learned
    tableau's stage count (RK4, the baseline of every score, always included)."""
    if methods:
        chosen = [rkcore.method(name) for name in methods]
    else:
        counts = {s for r in records for s in r.stage_tableaux}
        chosen = [rkcore.method(n) for n in rkcore.methods() if rkcore.method(n).stages in counts]
    names = {t.name for t in chosen}
    if "rk4" not in names:
        chosen.append(rkcore.method("rk4"))
    for t in chosen:
        t.require_explicit()
    return chosen


def _check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise RKInputError(f"{out_dir}: exists and is not a folder; choose another -o/--output")
    if (out_dir / "index.md").exists() and not force:
        raise RKInputError(
            f"{out_dir}/index.md exists; pass --force to overwrite the report or choose another -o"
        )


def compare(
    run_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    methods: Sequence[str] | None = None,
    strict: bool = False,
    force: bool = False,
    cross_check: DatasetSpec | None = None,
    progress: bool = False,
) -> CompareResult:
    """Write the comparison report of ``run_dirs`` to ``out_dir``.

    Parameters
    ----------
    run_dirs : sequence of path
        Run folders (``runs/*`` is fine: non-runs are reported and skipped).
    out_dir : path
        Report folder; receives ``index.md``, ``index.html``, figures (PNG + SVG) and tables
        (CSV + LaTeX).
    methods : sequence of str, optional
        Library methods to compare against (default: those with the learned stage counts).
    strict : bool
        Raise :class:`GuardError` (after writing the report) when the guard finds errors.
    force : bool
        Overwrite an existing report (``index.md``) in ``out_dir``.
    cross_check : rkcore.datasets.DatasetSpec, optional
        The common dataset no run trained on (default :func:`rkml.compare_eval.cross_check_spec`).
    progress : bool
        Progress on stderr while the common dataset's references are computed, the tableaux
        scored and the figures drawn (a live bar on a terminal, plain lines otherwise).

    Returns
    -------
    CompareResult

    Raises
    ------
    RKInputError
        No folder given, none of them a comparable run, an unknown method, or an existing
        report without ``force``.
    GuardError
        ``strict`` and the guard found errors (the report is written first).
    """
    out_dir = Path(out_dir)
    if not run_dirs:
        raise RKInputError("no run folder given; pass RUN_DIR... (e.g. runs/*)")
    _check_out_dir(out_dir, force)
    records: list[RunRecord] = []
    rejected: list[str] = []
    for path in run_dirs:
        try:
            records.append(load_run(path))
        except RunFolderError as exc:
            rejected.append(str(exc))
    if not records:
        raise RKInputError(f"none of the {len(run_dirs)} folders is a finished run: {rejected[0]}")
    library = _resolve_methods(methods, records)
    findings = guard(records)
    out_dir.mkdir(parents=True, exist_ok=True)

    evaluation = ce.evaluate_all(records, library, cross_check, progress=progress)
    blocks: list[rp.Block] = [
        rp.Heading("rkml comparison report", 1),
        rp.Paragraph(
            f"{len(records)} run(s) compared on {_dt.date.today().isoformat()}; "
            f"library methods: {', '.join(t.name for t in library)}."
        ),
    ]
    matrix = cs.build_matrix(records, evaluation)
    blocks += cs.summary_blocks(records, library, matrix)
    if findings:
        blocks.append(
            rp.Alert(
                "error",
                "the guard found results that cannot be compared as they stand",
                tuple(f.message for f in findings),
            )
        )
    if rejected:
        blocks.append(rp.Alert("warning", "folders left out", tuple(rejected)))
    unchecked = [f"{r.label}: no initialisation recorded" for r in records if not r.initial]
    if unchecked:
        blocks.append(rp.Alert("warning", "the guard could not compare these runs with their initialisation",
                               tuple(unchecked)))  # fmt: skip
    blocks += _runs_section(records)
    header, rows = profile_rows(records)
    blocks += [
        rp.Heading("Key differences between the profiles"),
        rp.Paragraph(
            f"Every setting of every run; where runs differ, the setting and the values that differ from "
            f"the most common one are marked {rp.DIFF_MARK} (name, description and hash always differ "
            "and are not marked)."
        ),
        rp.Table(header, rows),
    ]
    blocks += cs.matrix_blocks(matrix)
    files = ce.write_figures(records, library, evaluation, out_dir, progress=progress)
    blocks += ce.tableau_sections(records, library)
    blocks += ce.evaluation_sections(records, library, evaluation, files)

    md = rp.render_markdown(blocks)
    html = rp.render_html(blocks, out_dir, "rkml comparison report")
    tables = [atomic_write_text(out_dir / name, text) for name, text in rp.table_files(blocks).items()]
    written = [
        *tables,
        atomic_write_text(out_dir / "index.html", html),
        atomic_write_text(out_dir / "index.md", md),
        *(out_dir / f for f in files.values()),
        *(svg for f in files.values() if (svg := (out_dir / f).with_suffix(".svg")).is_file()),
    ]
    result = CompareResult(out_dir, tuple(written), tuple(records), tuple(rejected), findings)
    if strict and findings:
        raise GuardError(f"{len(findings)} guard error(s): {findings[0].message}", result)
    return result


def _runs_section(records: Sequence[RunRecord]) -> list[rp.Block]:
    rows = []
    for r in records:
        m = r.manifest
        rows.append(
            (
                r.label,
                r.profile.name,
                str(r.profile.training.seed),
                r.profile.short_hash(),
                ", ".join(str(s) for s in sorted(r.stage_tableaux)),
                str(r.tableau.stages),
                str(m.get("device", "–")),
                str(m.get("start_time", "–")),
                str(m.get("end_time", "–")),
                " ".join(r.profile.overrides) or "–",
            )
        )
    header = (
        "run",
        "profile",
        "seed",
        "hash",
        "stage counts",
        "headline s",
        "device",
        "start",
        "end",
        "overrides",
    )
    return [rp.Heading("Runs"), rp.Table(header, tuple(rows))]
