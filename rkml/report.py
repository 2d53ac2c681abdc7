"""A small document model for the comparison report, rendered to Markdown and self-contained HTML.

:mod:`rkml.compare` decides *what* the report says and builds a tuple of blocks; this
module only decides how the blocks look.  Both renderers read the same blocks, so
``index.md`` and ``index.html`` can never disagree.  The HTML embeds every image as a
base64 ``data:`` URI so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Marker appended to table cells that differ between runs (visible in plain text too).
DIFF_MARK = "⚠"


@dataclasses.dataclass(frozen=True)
class Heading:
    """A section title; ``level`` 1 is the document title."""

    text: str
    level: int = 2


@dataclasses.dataclass(frozen=True)
class Paragraph:
    """Plain text (no inline markup; it is escaped for both outputs)."""

    text: str


@dataclasses.dataclass(frozen=True)
class Cell:
    """A table cell; ``marked`` cells are shown bold with :data:`DIFF_MARK`, ``bold`` ones only bold."""

    text: str
    marked: bool = False
    bold: bool = False


@dataclasses.dataclass(frozen=True)
class Table:
    """A table with one header row.  ``rows`` hold strings or :class:`Cell` values."""

    header: tuple[str, ...]
    rows: tuple[tuple[str | Cell, ...], ...]
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Image:
    """A PNG written next to the report; ``file`` is relative to the report folder."""

    file: str
    alt: str
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Preformatted:
    """Monospaced text (a Butcher layout), kept verbatim."""

    text: str


@dataclasses.dataclass(frozen=True)
class Butcher:
    """A Butcher tableau, decimal-aligned in every output (HTML, Markdown, LaTeX ``r@{.}l``).

    ``A`` holds ``None`` for the blank entries (on and above the diagonal of an explicit method);
    ``b_hat`` is the embedded weight row, when there is one.  Every entry is written with
    ``decimals`` digits after the point, trailing zeros dropped.
    """

    c: tuple[float, ...]
    A: tuple[tuple[float | None, ...], ...]
    b: tuple[float, ...]
    b_hat: tuple[float, ...] | None = None
    caption: str = ""
    decimals: int = 10

    @classmethod
    def of(cls, tableau, caption: str = "", decimals: int = 10) -> Butcher:
        """The block of an :class:`rkcore.Tableau`."""
        s = tableau.stages
        explicit = tableau.is_explicit
        A = tuple(
            tuple(None if explicit and j >= i else float(tableau.A[i, j]) for j in range(s)) for i in range(s)
        )
        b_hat = None if tableau.b_hat is None else tuple(float(x) for x in tableau.b_hat)
        c, b = tuple(float(x) for x in tableau.c), tuple(float(x) for x in tableau.b)
        return cls(c, A, b, b_hat, caption, decimals)

    def grid(self) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
        """Rows ``(c entry, [entries])`` as ``(integer part, fraction part)`` pairs; the weight rows
        have an empty ``c`` entry."""
        split = lambda x: split_decimal(x, self.decimals)  # noqa: E731
        rows = [(split(ci), [split(a) for a in row]) for ci, row in zip(self.c, self.A, strict=True)]
        rows.append((("", ""), [split(x) for x in self.b]))
        if self.b_hat is not None:
            rows.append((("", ""), [split(x) for x in self.b_hat]))
        return rows


def split_decimal(x: float | None, decimals: int = 10) -> tuple[str, str]:
    """``x`` as ``(integer part, ".fraction")`` for decimal alignment (``("", "")`` for a blank)."""
    if x is None:
        return "", ""
    if x == 0.0:
        return "0", ""
    text = f"{x:.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return whole, f".{frac}" if frac else ""


@dataclasses.dataclass(frozen=True)
class Alert:
    """A boxed list of messages; ``kind`` is ``"error"``, ``"warning"`` or ``"beaten"`` (a
    library method scores above a learned headline: shown in red, not a guard error)."""

    kind: str
    title: str
    lines: tuple[str, ...]


_LABELS = {"error": "ERROR", "warning": "WARNING", "beaten": "BEATEN"}

Block = Heading | Paragraph | Table | Image | Preformatted | Alert | Butcher


# ---------------------------------------------------------------- helpers used by compare
def fmt_number(x: float | int | None, digits: int = 4) -> str:
    """Compact human form of a number: ``None``/NaN as an en dash, infinities spelled out."""
    if x is None:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if np.isnan(x):
        return "–"
    if np.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0.0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    return f"{x:.{max(digits - 1, 1)}e}"


def fmt_column(values: Sequence[float | int | None], digits: int = 4) -> list[str]:
    """One column of numbers with one format: the same decimals for all (``digits`` significant
    digits for the largest magnitude), or scientific notation for all when any is below 1e-3 or
    above 1e5.  ``None``/NaN is an en dash, infinities are spelled out, integers stay integers."""
    finite = [abs(float(v)) for v in values if _is_real(v) and np.isfinite(float(v)) and float(v) != 0.0]
    if all(v is None or isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return [fmt_number(v) for v in values]
    scientific = bool(finite) and (min(finite) < 1e-3 or max(finite) >= 1e5)
    decimals = max(0, digits - 1 - int(np.floor(np.log10(max(finite))))) if finite else digits - 1
    out = []
    for v in values:
        if not _is_real(v) or not np.isfinite(float(v)):
            out.append(fmt_number(v))
        elif scientific:
            out.append(f"{float(v):.{digits - 1}e}")
        else:
            out.append(f"{float(v):.{decimals}f}")
    return out


def _is_real(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def best_indices(values: Sequence[float | None], higher: bool = True, rel: float = 1e-9) -> set[int]:
    """Indices of the best finite value (``higher`` or lower is better), ties included; empty when
    there are fewer than two values or all of them are equal (nothing to single out)."""
    finite = {i: float(v) for i, v in enumerate(values) if _is_real(v) and np.isfinite(float(v))}
    if len(finite) < 2:
        return set()
    best = (max if higher else min)(finite.values())
    worst = (min if higher else max)(finite.values())
    tol = rel * max(abs(best), abs(worst), 1e-300)
    if abs(best - worst) <= tol:
        return set()
    return {i for i, v in finite.items() if abs(v - best) <= tol}


# ---------------------------------------------------------------- Markdown
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(cell: str | Cell) -> str:
    if isinstance(cell, Cell):
        text = _md_escape(cell.text)
        if cell.marked and text:
            return f"**{text}** {DIFF_MARK}"
        return f"**{text}**" if cell.bold and text else text
    return _md_escape(cell)


def render_markdown(blocks: Sequence[Block]) -> str:
    """Render ``blocks`` as GitHub-flavoured Markdown (images referenced by relative path)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Table):
            lines = []
            if block.caption:
                lines.append(f"*{block.caption}*\n")
            lines.append("| " + " | ".join(_md_escape(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---:" if num else "---" for num in numeric_columns(block)) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            text = f"![{block.alt}]({block.file})"
            out.append(text + (f"\n\n*{block.caption}*" if block.caption else ""))
        elif isinstance(block, Preformatted):
            out.append("```text\n" + block.text + "\n```")
        elif isinstance(block, Butcher):
            caption = f"*{block.caption}*\n\n" if block.caption else ""
            out.append(caption + "```text\n" + butcher_text(block) + "\n```")
        elif isinstance(block, Alert):
            label = _LABELS.get(block.kind, "WARNING")
            lines = [f"> **{label}: {block.title}**", ">"]
            lines += [f"> - {line}" for line in block.lines]
            out.append("\n".join(lines))
        else:  # pragma: no cover - the Block union is closed
            raise TypeError(f"unknown report block {type(block).__name__}")
    return "\n\n".join(out) + "\n"


def _widths(block: Butcher) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Widest integer and fraction part of the ``c`` column and of each ``A``/``b`` column."""
    grid = block.grid()
    c = (max(len(r[0][0]) for r in grid), max(len(r[0][1]) for r in grid))
    n = len(block.b)
    cols = [(max(len(r[1][j][0]) for r in grid), max(len(r[1][j][1]) for r in grid)) for j in range(n)]
    return c, cols


def butcher_text(block: Butcher) -> str:
    """Plain-text Butcher layout with every column aligned at the decimal point."""
    (ci, cf), cols = _widths(block)
    grid = block.grid()
    lines = []
    for k, (c, row) in enumerate(grid):
        left = c[0].rjust(ci) + c[1].ljust(cf)
        body = "  ".join(w.rjust(wi) + f.ljust(wf) for (w, f), (wi, wf) in zip(row, cols, strict=True))
        lines.append(f"{left} | {body}".rstrip())
        if k == len(block.c) - 1:
            width = sum(wi + wf for wi, wf in cols) + 2 * (len(cols) - 1) + 1
            lines.append("-" * (ci + cf + 1) + "+" + "-" * width)
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.diff { font-weight: bold; background: #fff3cd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
.alert { border: 2px solid; padding: 0.4em 1em; margin: 1em 0; border-radius: 4px; }
.alert.error { border-color: #c62828; background: #fdecea; }
.alert.warning { border-color: #ef6c00; background: #fff4e5; }
.alert.beaten { border-color: #c62828; background: #fdecea; color: #b71c1c; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.diff.num { text-align: right; }
table.butcher td { border: none; padding: 0.1em 0 0.1em 0.9em; font-family: ui-monospace, monospace;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
table.butcher td.i { text-align: right; padding-left: 0.9em; }
table.butcher td.f { text-align: left; padding-left: 0; }
table.butcher td.sep { border-right: 1px solid #333; padding-right: 0.5em; }
table.butcher tr.rule td { border-top: 1px solid #333; }
figcaption, caption { font-style: italic; color: #555; }
"""


#: Cells right-aligned in HTML: a number (optionally ``± s.e.``), possibly followed by a remark.
_NUMERIC = re.compile(r"^([+\-−]?(\d[\d.,eE+\-]*|∞)( ± [\d.eE+\-]+)?(\s.*)?|–)$")


def numeric_columns(block: Table) -> list[bool]:
    """Per column: every body cell is a number (optionally ``± s.e.`` and a remark), so the column
    is right-aligned in Markdown (``---:``) and LaTeX (``r``)."""
    return [
        bool(block.rows) and all(_NUMERIC.match(_plain(row[j])) for row in block.rows if j < len(row))
        for j in range(len(block.header))
    ]


def _html_cell(cell: str | Cell) -> str:
    raw = cell.text if isinstance(cell, Cell) else cell
    num = ' class="num"' if _NUMERIC.match(raw) else ""
    if isinstance(cell, Cell):
        text = html.escape(cell.text)
        if cell.marked and cell.text:
            cls = "diff num" if num else "diff"
            return f'<td class="{cls}">{text} {DIFF_MARK}</td>'
        return f"<td{num}><strong>{text}</strong></td>" if cell.bold else f"<td{num}>{text}</td>"
    return f"<td{num}>{html.escape(cell)}</td>"


#: Screen width of a figure in the HTML, as a fraction of its PNG width: a 200 dpi PNG made for a
#: 3.5 in column is 700 pixels; shown at about 470 its fonts look as they will in print.
SCREEN_SCALE = 2 / 3


def _png_width(data: bytes) -> int | None:
    """Pixel width from a PNG's IHDR chunk (None if ``data`` is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big")


def render_html(blocks: Sequence[Block], base_dir: str | Path, title: str) -> str:
    """Render ``blocks`` as one self-contained HTML page.

    Parameters
    ----------
    blocks : sequence of Block
    base_dir : path
        Folder the :class:`Image` paths are relative to; each PNG is read and embedded.
    title : str
        The page title.
    """
    base_dir = Path(base_dir)
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            parts = ["<table>"]
            if block.caption:
                parts.append(f"<caption>{html.escape(block.caption)}</caption>")
            parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.header) + "</tr>")
            for row in block.rows:
                parts.append("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>")
            parts.append("</table>")
            body.append("\n".join(parts))
        elif isinstance(block, Image):
            raw = (base_dir / block.file).read_bytes()
            data = base64.b64encode(raw).decode("ascii")
            caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
            width = _png_width(raw)
            size = f' width="{round(width * SCREEN_SCALE)}"' if width else ""
            body.append(
                f'<figure><img src="data:image/png;base64,{data}"{size} alt="{html.escape(block.alt)}">'
                f"{caption}</figure>"
            )
        elif isinstance(block, Preformatted):
            body.append(f"<pre>{html.escape(block.text)}</pre>")
        elif isinstance(block, Butcher):
            body.append(_butcher_html(block))
        elif isinstance(block, Alert):
            label = _LABELS.get(block.kind, "WARNING")
            items = "".join(f"<li>{html.escape(line)}</li>" for line in block.lines)
            body.append(
                f'<div class="alert {html.escape(block.kind)}"><strong>{label}: '
                f"{html.escape(block.title)}</strong><ul>{items}</ul></div>"
            )
        else:  # pragma: no cover - the Block union is closed
            raise TypeError(f"unknown report block {type(block).__name__}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _butcher_html(block: Butcher) -> str:
    """Butcher tableau as an HTML table: each entry in two cells, the integer part right-aligned
    (``td.i``) and ``.fraction`` left-aligned (``td.f``), so every column aligns at the point."""
    parts = ['<table class="butcher">']
    if block.caption:
        parts.append(f"<caption>{html.escape(block.caption)}</caption>")
    for k, (c, row) in enumerate(block.grid()):
        rule = ' class="rule"' if k == len(block.c) else ""
        cells = f'<td class="i">{html.escape(c[0])}</td><td class="f sep">{html.escape(c[1])}</td>'
        cells += "".join(
            f'<td class="i">{html.escape(w)}</td><td class="f">{html.escape(f)}</td>' for w, f in row
        )
        parts.append(f"<tr{rule}>{cells}</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def butcher_latex(block: Butcher) -> str:
    """LaTeX ``tabular`` of the tableau with ``r@{.}l`` columns (aligned at the decimal point)."""
    n = len(block.b)
    lines = [f"% {block.caption or 'Butcher tableau'}", r"\begin{tabular}{r@{.}l|" + "r@{.}l" * n + "}"]
    for k, (c, row) in enumerate(block.grid()):
        if k == len(block.c):
            lines.append(r"\hline")
        cells = [_latex_entry(w, f, k == 0) for k, (w, f) in enumerate((c, *row))]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\end{tabular}", ""]
    return "\n".join(lines)


def _latex_entry(whole: str, frac: str, c_column: bool) -> str:
    """One entry as the two cells of an ``r@{.}l`` pair: a blank spans both (no point), an integer
    keeps the point's width as a phantom so it stays aligned."""
    if not whole:
        return r"\multicolumn{2}{c|}{}" if c_column else r"\multicolumn{2}{c}{}"
    if not frac:
        return r"\multicolumn{1}{r@{\phantom{.}}}{" + _latex(whole) + "} & "
    return f"{_latex(whole)} & {_latex(frac.lstrip('.'))}"


def butcher_csv(block: Butcher) -> str:
    """The tableau as CSV: ``c`` then the ``A`` row; weight rows with an empty ``c``."""
    import csv
    import io

    def num(x: float | None) -> str:
        return "" if x is None else repr(float(x))

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["c", *(f"a{j + 1}" for j in range(len(block.b)))])
    for ci, row in zip(block.c, block.A, strict=True):
        writer.writerow([num(ci), *(num(a) for a in row)])
    writer.writerow(["b", *(num(x) for x in block.b)])
    if block.b_hat is not None:
        writer.writerow(["b_hat", *(num(x) for x in block.b_hat)])
    return buffer.getvalue()


# ---------------------------------------------------------------- CSV and LaTeX copies of the tables
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "±": r"$\pm$", "−": "$-$", "∞": r"$\infty$", "–": "--", "⚠": r"(!)"}  # fmt: skip


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _plain(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else cell


_VALUE_SE = re.compile(r"^([+\-−]?\d[\d.eE+\-]*) ± (\d[\d.eE+\-]*)$")


def _csv_rows(block: Table) -> tuple[list[str], list[list[str]]]:
    """Header and rows for CSV: a column whose every number reads ``value ± s.e.`` becomes two
    columns, ``<name>`` and ``<name> s.e.``, so the numbers can be read back as numbers."""
    rows = [[_plain(c) for c in row] for row in block.rows]
    split = [
        bool(rows)
        and any(j < len(r) and _VALUE_SE.match(r[j]) for r in rows)
        and all(j >= len(r) or _VALUE_SE.match(r[j]) or r[j] == "–" for r in rows)
        for j in range(len(block.header))
    ]
    header: list[str] = []
    for h, two in zip(block.header, split, strict=True):
        name = h.replace(" ± s.e.", "")
        header += [name, f"{name} s.e."] if two else [h]
    out = []
    for r in rows:
        line: list[str] = []
        for j, text in enumerate(r):
            if j < len(split) and split[j]:
                m = _VALUE_SE.match(text)
                line += [m.group(1), m.group(2)] if m else ["", ""]
            else:
                line.append(text)
        out.append(line)
    return header, out


def table_files(blocks: Sequence[Block]) -> dict[str, str]:
    """Every table of ``blocks`` as CSV and as a LaTeX ``tabular``: ``{file name: text}``.

    Butcher tableaux go to ``butcher-NN-<slug>.csv`` / ``.tex`` (decimal-aligned ``r@{.}l``).
    In the CSV a ``value ± s.e.`` column is split in two (:func:`_csv_rows`).
    Files are ``table-NN-<slug>.csv`` / ``.tex``, numbered in report order; the slug comes from
    the table's caption, else from the heading above it.  Numeric columns are right-aligned in
    LaTeX, marked cells bold.
    """
    import csv
    import io

    out: dict[str, str] = {}
    heading = "table"
    k = n_butcher = 0
    for block in blocks:
        if isinstance(block, Heading):
            heading = block.text
        if isinstance(block, Butcher):
            n_butcher += 1
            slug = re.sub(r"[^a-z0-9]+", "-", (block.caption or heading).lower()).strip("-")[:60]
            name = f"butcher-{n_butcher:02d}-{slug or 'tableau'}"
            out[f"{name}.csv"] = butcher_csv(block)
            out[f"{name}.tex"] = butcher_latex(block)
        if not isinstance(block, Table):
            continue
        k += 1
        slug = re.sub(r"[^a-z0-9]+", "-", (block.caption or heading).lower()).strip("-")[:40] or "table"
        name = f"table-{k:02d}-{slug}"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header, rows = _csv_rows(block)
        writer.writerow(header)
        writer.writerows(rows)
        out[f"{name}.csv"] = buffer.getvalue()
        cols = ["r" if num else "l" for num in numeric_columns(block)]
        lines = [f"% {block.caption or heading}", r"\begin{tabular}{" + "".join(cols) + "}", r"\hline"]
        lines.append(" & ".join(_latex(h) for h in block.header) + r" \\ \hline")
        for row in block.rows:
            cells = []
            for c in row:
                text = _latex(_plain(c))
                bold = isinstance(c, Cell) and (c.bold or c.marked) and text
                cells.append(r"\textbf{" + text + "}" if bold else text)
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\hline", r"\end{tabular}", ""]
        out[f"{name}.tex"] = "\n".join(lines)
    return out
