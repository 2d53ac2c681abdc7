"""The comparison report in a real browser: headless Chromium loads ``index.html``.

Slow and optional: skipped with the reason where no ``chromium`` is installed (Debian's
``chromium`` package; CI does not install it).  A probe script is added to a *copy* of the
report; it records whether every image decoded and where the summary table sits, and
``--dump-dom`` returns the page after it ran.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from test_compare import SPEC, _cache, kutta4, make_run, smoke  # noqa: F401 (_cache: autouse fixture)

from rkml.compare import compare

CHROMIUM = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
WIDTH, HEIGHT = 1280, 900

_PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const h = [...document.querySelectorAll("h2")].find(e => e.textContent === "Summary");
  const table = h && h.nextElementSibling && h.nextElementSibling.nextElementSibling;
  const bottom = table ? Math.round(table.getBoundingClientRect().bottom) : -1;
  const out = document.createElement("pre");
  out.id = "probe";
  const h_px = window.innerHeight;
  out.textContent = `images=${imgs.length} broken=${bad} summary_bottom=${bottom} height=${h_px}`;
  document.body.appendChild(out);
});
</script>
"""


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium to run this test)"
)
def test_report_renders_in_headless_chromium(tmp_path):
    root = tmp_path / "runs"
    run_dirs = [
        make_run(root, smoke("balanced"), kutta4(0.3, 0.7)),
        make_run(root, smoke("efficiency-v2"), kutta4(0.25, 0.75)),
    ]
    out = tmp_path / "report"
    compare(run_dirs, out, cross_check=SPEC)
    page = (out / "index.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run(
        [*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    m = re.search(r"images=(\d+) broken=(\d+) summary_bottom=(-?\d+) height=(\d+)", dom)
    assert m, dom[-2000:]
    images, broken, bottom, height = map(int, m.groups())
    assert images == page.count("<img ") >= 4 and broken == 0
    assert 0 < bottom <= height, "the summary table is not in the first screen"
    shot = tmp_path / "first-screen.png"
    subprocess.run([*flags, f"--screenshot={shot}", (out / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.stat().st_size > 10_000
