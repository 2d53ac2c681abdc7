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
class Alert:
    """A boxed list of messages; ``kind`` is ``"error"``, ``"warning"`` or ``"beaten"`` (a
    library method scores above a learned headline: shown in red, not a guard error)."""

    kind: str
    title: str
    lines: tuple[str, ...]


_LABELS = {"error": "ERROR", "warning": "WARNING", "beaten": "BEATEN"}

Block = Heading | Paragraph | Table | Image | Preformatted | Alert


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
            lines.append("|" + "|".join("---" for _ in block.header) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            text = f"![{block.alt}]({block.file})"
            out.append(text + (f"\n\n*{block.caption}*" if block.caption else ""))
        elif isinstance(block, Preformatted):
            out.append("```text\n" + block.text + "\n```")
        elif isinstance(block, Alert):
            label = _LABELS.get(block.kind, "WARNING")
            lines = [f"> **{label}: {block.title}**", ">"]
            lines += [f"> - {line}" for line in block.lines]
            out.append("\n".join(lines))
        else:  # pragma: no cover - the Block union is closed
            raise TypeError(f"unknown report block {type(block).__name__}")
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.diff { font-weight: bold; background: #fff3cd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #ddd; }
.alert { border: 2px solid; padding: 0.4em 1em; margin: 1em 0; border-radius: 4px; }
.alert.error { border-color: #c62828; background: #fdecea; }
.alert.warning { border-color: #ef6c00; background: #fff4e5; }
.alert.beaten { border-color: #c62828; background: #fdecea; color: #b71c1c; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figcaption, caption { font-style: italic; color: #555; }
"""


#: Cells right-aligned in HTML: a number (optionally ``± s.e.``), possibly followed by a remark.
_NUMERIC = re.compile(r"^([+\-−]?(\d[\d.,eE+\-]*|∞)( ± [\d.eE+\-]+)?(\s.*)?|–)$")


def _html_cell(cell: str | Cell) -> str:
    raw = cell.text if isinstance(cell, Cell) else cell
    num = ' class="num"' if _NUMERIC.match(raw) else ""
    if isinstance(cell, Cell):
        text = html.escape(cell.text)
        if cell.marked and cell.text:
            return f'<td class="diff">{text} {DIFF_MARK}</td>'
        return f"<td{num}><strong>{text}</strong></td>" if cell.bold else f"<td{num}>{text}</td>"
    return f"<td{num}>{html.escape(cell)}</td>"


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
            data = base64.b64encode((base_dir / block.file).read_bytes()).decode("ascii")
            caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
                f"{caption}</figure>"
            )
        elif isinstance(block, Preformatted):
            body.append(f"<pre>{html.escape(block.text)}</pre>")
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


# ---------------------------------------------------------------- CSV and LaTeX copies of the tables
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "±": r"$\pm$", "−": "$-$", "∞": r"$\infty$", "–": "--", "⚠": r"(!)"}  # fmt: skip


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _plain(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else cell


def table_files(blocks: Sequence[Block]) -> dict[str, str]:
    """Every table of ``blocks`` as CSV and as a LaTeX ``tabular``: ``{file name: text}``.

    Files are ``table-NN-<slug>.csv`` / ``.tex``, numbered in report order; the slug comes from
    the table's caption, else from the heading above it.  Numeric columns are right-aligned in
    LaTeX, marked cells bold.
    """
    import csv
    import io

    out: dict[str, str] = {}
    heading = "table"
    k = 0
    for block in blocks:
        if isinstance(block, Heading):
            heading = block.text
        if not isinstance(block, Table):
            continue
        k += 1
        slug = re.sub(r"[^a-z0-9]+", "-", (block.caption or heading).lower()).strip("-")[:40] or "table"
        name = f"table-{k:02d}-{slug}"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(block.header)
        writer.writerows([_plain(c) for c in row] for row in block.rows)
        out[f"{name}.csv"] = buffer.getvalue()
        cols = [
            "r"
            if block.rows and all(_NUMERIC.match(_plain(row[j])) for row in block.rows if j < len(row))
            else "l"
            for j in range(len(block.header))
        ]
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
