"""Command-line front ends (typer): ``rkcore`` (:mod:`cli.rkcore_app`) and ``rkml`` (:mod:`cli.rkml_app`).

The commands are thin: they parse options, call one library function and turn a
user error into a one-line message on stderr with exit code 1 (:mod:`cli.common`).
"""

import os

# The dense linear algebra behind these commands is small (s x s eigenvalue problems, s up to a
# few hundred); OpenBLAS worker threads gain nothing there and, on a busy machine, contend with
# numba's threads and slow such solves down by 10-100x.  Only a default: set the variable to
# override it.  (Must run before numpy is first imported, hence here.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
