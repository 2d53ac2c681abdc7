"""rkcore (and the rkcore CLI) must import and work on a machine without torch.

Each test runs a fresh interpreter in which a meta-path finder makes ``import torch``
fail exactly as it does when torch is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HIDE_TORCH = """
import sys

class _HideTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _HideTorch())
try:
    import torch  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("torch was not hidden")
"""


def _run_without_torch(body: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    code = HIDE_TORCH + textwrap.dedent(body) + '\nassert "torch" not in sys.modules\nprint("OK")\n'
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("OK"), proc.stdout[-3000:]
    return proc


def test_rkcore_imports_builds_and_analyses_without_torch():
    _run_without_torch(
        """
        import importlib, pkgutil
        import numpy as np
        import rkcore

        for info in pkgutil.walk_packages(rkcore.__path__, "rkcore."):
            importlib.import_module(info.name)

        t = rkcore.method("rk4")
        assert t.stages == 4 and t.is_explicit
        result = rkcore.analyze(t).to_dict()
        assert result["order"] == 4, result
        assert abs(result["real_stability_interval"] - 2.785293563405282) < 1e-8, result
        A = np.stack([rkcore.method(name).A for name in ("rk4", "rk38")])
        b = np.stack([rkcore.method(name).b for name in ("rk4", "rk38")])
        assert rkcore.order_batch(A, b).tolist() == [4, 4]
        """
    )


def test_rkcore_cli_runs_without_torch():
    proc = _run_without_torch(
        """
        from cli.rkcore_app import main
        sys.argv = ["rkcore", "methods"]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        """
    )
    assert "dopri5" in proc.stdout
