"""The metrics JSON each notebook writes: ``runs/<profile>/metrics/<NN_name>.json``.

Tests and readers use these numbers; they are measured by the code that ships, never typed in.
"""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from . import atomic
from .config import NotebookConfig

_PACKAGES = ("numpy", "h5py", "cctbx-base", "tensorflow", "keras", "pymatgen", "pyxtal",
             "scikit-learn", "pandas", "matplotlib")


def package_versions(names: Iterable[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the study's main packages (``"absent"`` when not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def write_metrics(cfg: NotebookConfig, metrics: dict[str, Any]) -> Path:
    """Write ``metrics`` with a ``_run`` block (profile, parameters, versions, time) atomically.

    Returns the path written.  Keys of ``metrics`` are kept as given.
    """
    record = dict(metrics)
    record["_run"] = {
        "notebook": cfg.notebook,
        "profile": cfg.profile,
        "parameters": cfg.params,
        "overridden": cfg.overridden,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return atomic.write_json(cfg.metrics_path, record)

