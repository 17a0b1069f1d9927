"""Measured powder patterns with known labels: the validation set ``rruff_dev``.

``../shared/data/rruff_dev/`` holds 301 measured RRUFF patterns (Cu Kα, 2θ 5.00–89.99° at
0.01°, two columns ``2θ intensity``) and ``labels.csv`` (``file``, ``space_group``,
``crystal_system``).  It is a **validation set: never train on it**.  :func:`read_rruff_dev`
reads every file as ``python -m lib.xrd classify`` does (:func:`lib.xrd.classify.load_scan`)
and puts it on a model's grid through the same preprocessing
(:func:`lib.xrd.classify.to_model_input`, which ends in :func:`lib.xrd.classify.preprocess`,
the function the training patterns pass through too).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .classify import PatternError, load_scan, to_model_input
from .patterns import CRYSTAL_SYSTEMS, CU_KA, Grid, crystal_system_of


@dataclass
class MeasuredSet:
    """Measured patterns on a model's grid with their labels.

    ``patterns``: (n, n_points) float32 model inputs; ``crystal_system``: indices into
    ``CRYSTAL_SYSTEMS``; ``space_group``: international numbers (1–230); ``files``: names;
    ``skipped``: ``{"file", "reason"}`` of the files that could not be used."""

    patterns: np.ndarray
    crystal_system: np.ndarray
    space_group: np.ndarray
    files: list[str]
    folder: Path
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def summary(self) -> dict[str, Any]:
        """Sizes, counts per crystal system and skipped files, for the metrics JSON."""
        counts = np.bincount(self.crystal_system, minlength=len(CRYSTAL_SYSTEMS))
        return {"folder": str(self.folder), "n_patterns": len(self),
                "n_skipped": len(self.skipped), "skipped": self.skipped[:50],
                "per_crystal_system": dict(zip(CRYSTAL_SYSTEMS, counts.tolist())),
                "n_space_groups": int(len(np.unique(self.space_group)))}


def read_labels(folder: Path) -> list[dict[str, Any]]:
    """The rows of ``labels.csv`` (``file``, ``space_group``, ``crystal_system``), checked: the
    crystal system is one of the seven and agrees with the space group.  ``ValueError`` naming
    the file and the line otherwise."""
    path = folder / "labels.csv"
    if not path.is_file():
        raise ValueError(f"{folder}: no labels.csv (file, space_group, crystal_system)")
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "space_group", "crystal_system"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: lacks the column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                group = int(row["space_group"])
            except ValueError:
                raise ValueError(f"{path}: line {line}: space group {row['space_group']!r} is "
                                 "not a number") from None
            system = row["crystal_system"].strip().lower()
            if not 1 <= group <= 230 or system not in CRYSTAL_SYSTEMS:
                raise ValueError(f"{path}: line {line}: space group {group} / crystal system "
                                 f"{system!r} unknown")
            if crystal_system_of(group) != system:
                raise ValueError(f"{path}: line {line}: space group {group} is "
                                 f"{crystal_system_of(group)}, not {system}")
            rows.append({"file": row["file"].strip(), "space_group": group,
                         "crystal_system": system})
    return rows


def read_rruff_dev(folder: str | Path, grid: Grid, sigma: float, background: str = "none",
                   wavelength: float = CU_KA) -> MeasuredSet:
    """The measured patterns of ``folder`` (``labels.csv`` + one two-column file each) as model
    inputs on ``grid`` (σ in grid points, ``background`` as the model's bundle), with their
    labels.  Files that cannot be read, or that ``classify`` would refuse as suspicious, are
    skipped with their reason; the rest are read."""
    folder = Path(folder)
    vectors, systems, groups, files, skipped = [], [], [], [], []
    for row in read_labels(folder):
        path = folder / row["file"]
        try:
            scan = load_scan(path, "2theta", wavelength, wavelength)
            if scan.suspicions:
                raise PatternError(path, "; ".join(scan.suspicions))
            vec, _ = to_model_input(scan.two_theta, scan.intensity, grid, sigma, "profile",
                                    name=str(path), background=background)
        except PatternError as exc:
            skipped.append({"file": row["file"], "reason": exc.reason})
            continue
        vectors.append(vec)
        systems.append(CRYSTAL_SYSTEMS.index(row["crystal_system"]))
        groups.append(row["space_group"])
        files.append(row["file"])
    patterns = (np.stack(vectors).astype(np.float32) if vectors
                else np.zeros((0, grid.n_points), np.float32))
    return MeasuredSet(patterns, np.array(systems, int), np.array(groups, int), files, folder,
                       skipped)
