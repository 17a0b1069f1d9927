"""phases-and-patterns: what the study's notebooks share.

Modules
-------
config       paths and profiles (the one place where they live)
atomic       write-to-temporary-then-rename helpers: no output is ever half-written
figures      headless figure saving (PNG + PDF) and the generated ``figures/README.md``
metrics      the per-notebook metrics JSON
parallel     a map over chunks of work, in-process or on Dask (both reports' builders)
runner       jupytext → papermill execution of the notebooks (``./run_all.sh``)

Packages
--------
phases       report 1: signs of structure factors from intensities (P-1)
xrd          report 2: crystal systems from powder XRD patterns
"""

__version__ = "0.1.0"

# cctbx's boost.python runtime must be loaded before pandas + matplotlib (or PIL/kiwisolver)
# in the same process: loaded after them, ``from cctbx import crystal`` segfaults (libstdc++
# symbol clash).  Importing it here, first, costs ~40 ms and makes any import order safe.
try:  # pragma: no cover - cctbx is a dependency, but keep lib importable without it
    import boost_adaptbx.boost.python  # noqa: F401
except ImportError:
    pass
