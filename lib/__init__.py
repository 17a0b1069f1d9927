"""phases-and-patterns: what the study's notebooks share.

Modules
-------
config       paths and profiles (the one place where they live)
atomic       write-to-temporary-then-rename helpers: no output is ever half-written
figures      headless figure saving (PNG + PDF) and the generated ``figures/README.md``
metrics      the per-notebook metrics JSON
"""

__version__ = "0.1.0"
