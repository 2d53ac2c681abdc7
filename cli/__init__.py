"""Command-line front ends (typer): ``rkcore`` (:mod:`cli.rkcore_app`) and ``rkml`` (:mod:`cli.rkml_app`).

The commands are thin: they parse options, call one library function and turn a
user error into a one-line message on stderr with exit code 1 (:mod:`cli.common`).
"""
