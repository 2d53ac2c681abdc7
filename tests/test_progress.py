"""rkcore.progress: a live bar on a terminal, a bounded number of plain lines in a log."""

from __future__ import annotations

import io

import pytest

from rkcore.progress import PlainProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_a_line_every_five_percent_and_no_carriage_returns():
    log = io.StringIO()
    with progress_bar(1000, desc="train", unit="epoch", file=log) as bar:
        assert isinstance(bar, PlainProgress)
        for k in range(1000):
            bar.set_postfix(best=f"{k / 1000:+.3f}")
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 21  # 0 %, 5 %, ..., 100 %
    assert lines[0] == "train: 0/1000 epochs (0%), 0.0 s"
    assert lines[10].startswith("train: 500/1000 epochs (50%), ") and ", eta " in lines[10]
    assert lines[10].endswith(", best=+0.499")
    assert lines[-1].startswith("train: 1000/1000 epochs (100%), ") and lines[-1].endswith("best=+0.999")


def test_large_updates_and_a_resumed_start_print_one_line_each():
    log = io.StringIO()
    bar = progress_bar(40, desc="references", unit="problem", initial=10, file=log)
    bar.update(25)
    bar.update(5)
    bar.close()
    lines = log.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "references: 10/40 problems (25%)",
        "references: 35/40 problems (88%)",
        "references: 40/40 problems (100%)",
    ]


def test_stopping_short_prints_where_it_stopped():
    log = io.StringIO()
    bar = progress_bar(100, desc="run", unit="epoch", file=log)
    for _ in range(43):
        bar.update(1)
    bar.close()
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10  # 0, 5, ..., 40 % and the stop
    assert lines[-2].startswith("run: 40/100 epochs (40%)")
    assert lines[-1].startswith("run: 43/100 epochs (43%)")


@pytest.mark.parametrize("total, enabled", [(10, False), (0, True)])
def test_disabled_or_empty_prints_nothing(total, enabled):
    for stream in (io.StringIO(), Terminal()):
        with progress_bar(total, desc="x", enabled=enabled, file=stream) as bar:
            bar.set_postfix(a=1)
            bar.update(total)
        assert stream.getvalue() == ""


def test_a_terminal_gets_the_live_bar():
    from tqdm.auto import tqdm

    stream = Terminal()
    with progress_bar(10, desc="x", file=stream) as bar:
        assert isinstance(bar, tqdm)
        bar.update(10)
    assert "\r" in stream.getvalue()
