"""Worked examples: ODE families of one's own, named in profiles by import path.

Run the programs from the root of the clone (``rkml train --profile examples/advection.toml``):
import paths such as ``examples.advection:ADVECTION`` are looked up from the working directory.
"""
