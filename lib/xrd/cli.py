"""The command line: ``python -m lib.xrd classify PATTERN [PATTERN ...] --model MODEL``.

Options as in :mod:`lib.xrd.classify` (``--top``, ``--json``, ``--input``, ``--axis``,
``--wavelength``, ``--force``), plus ``--index``: each Cu Kα 2θ scan is also indexed the
classical way (:mod:`lib.xrd.indexing`, no training), and its record gains ``"indexing"``:
the crystal system of the cell found, the cell (Å; β in degrees for a monoclinic cell, α, β, γ
for a triclinic one), its lattice centring and de Wolff's M_N — or ``"indexed": false`` when no
cell indexes the lines (a cell the trial search misses, too few / impure lines, or a triclinic
pattern with fewer than 20 lines) — and ``"answer"``: the indexing's crystal system (and the
space group it names) when a cell indexes the lines, the network's otherwise (a space group
indexing does not name: the network's most probable one of that system, weighted by the bundle's
COD space-group frequencies), each marked by where it came from and whether it is confident.  On
the 301 measured RRUFF patterns of ``rruff_dev`` indexing names the crystal system more often
than the shipped networks (see the README).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

import numpy as np

from .classify import (AXES, INPUT_KINDS, WAVELENGTH_NAMES, classify_files, format_text,
                       space_group_symbol, wavelength_angstrom)
from .evaluate import indexing_first, prior_probabilities
from .indexing import index_file
from .models import Bundle, load_bundle
from .patterns import CRYSTAL_SYSTEMS


def indexing_summary(result: dict[str, Any], m_threshold: float | None = None,
                     ) -> dict[str, Any]:
    """The ``"indexing"`` entry of a record from :func:`lib.xrd.indexing.index_file`'s result:
    ``{"indexed", "crystal_system", "lattice", "cell_angstrom", "beta_deg", "angles_deg", "M",
    "n_lines", "n_indexed", "zero_deg", "absences", "space_group", "space_group_symbol",
    "n_picked", "lines"}`` (cell edges a, [b,] c in Å, hexagonal axes for hexagonal and trigonal; a
    monoclinic cell's β in degrees, null for the other systems; a triclinic (Niggli) cell's α,
    β, γ in degrees, null for the others; the refined 2θ zero shift in
    degrees; the space groups whose extinction symbol fits the cell's lines best, or null for
    the lattice centring's alone; the most symmetric group those reflection conditions allow,
    :func:`lib.xrd.indexing.most_symmetric_group`, null when the lattice's metric symmetry is
    not the cell's system; ``"lines"``: ``"maxima"``, ``"weak"`` for a computed scan's lines
    down to 1 %, or ``"curvature"`` when the cell was found on the lines of the second look,
    :func:`lib.xrd.indexing.index_scan`; ``"confident"``: M ≥ ``m_threshold``, the lowest M
    at which notebook 06 found the indexed ``rruff_dev`` patterns right often enough, stored
    in the bundle as ``meta.indexing_m_threshold``; null without one),
    ``{"indexed": false, "crystal_system": null, "n_picked", "note"}``, or ``{"error"}``."""
    if "error" in result:
        return {"error": result["error"]}
    if not result["indexed"]:
        return {"indexed": False, "crystal_system": None, "n_picked": result["n_picked"],
                "note": "no cell indexes the lines (triclinic only searched with 20 lines or "
                        "more): a cell the trial search misses, or too few or impure lines"}
    sol = result["solution"]
    return {"indexed": True, "crystal_system": result["crystal_system"],
            "lattice": sol["lattice"], "cell_angstrom": sol["cell_angstrom"],
            "beta_deg": sol.get("beta_deg"), "angles_deg": sol.get("angles_deg"),
            "M": sol["M"],
            "n_lines": sol["n_lines"], "n_indexed": sol["n_indexed"],
            "zero_deg": sol["zero_deg"],
            "absences": (sol["absences"] if result["crystal_system"] == sol["system"]
                         else None),
            "space_group": result["space_group"],
            "space_group_symbol": (space_group_symbol(result["space_group"])
                                   if result["space_group"] else None),
            "confident": None if m_threshold is None else bool(sol["M"] >= m_threshold),
            "m_threshold": m_threshold,
            "n_picked": result["n_picked"], "lines": result.get("lines", "maxima")}


def indexing_first_answer(result: dict[str, Any], probs: dict[str, np.ndarray],
                          meta: dict[str, Any], network_confident: bool) -> dict[str, Any]:
    """The one answer ``classify --index`` gives for a file: indexing first, and where no cell
    indexes the lines the fallback notebook 06 found better on ``rruff_dev`` (the bundle's
    ``meta.indexing_fallback``): the network (``"network"``, the default) or the COD
    frequencies alone (``"prior"``, ``meta.class_prior``) — :func:`lib.xrd.evaluate.
    indexing_first`, as the notebook scores it.  ``result``: :func:`lib.xrd.indexing.
    index_file`'s; ``probs``: the network's calibrated probabilities of this file ({head: (1,
    n_classes)}); ``meta``: the bundle's (``space_group_prior``: the COD space-group
    frequencies; ``indexing_m_threshold``).  Returns ``{"crystal_system", "from":
    "indexing"|"network"|"prior", "space_group", "space_group_symbol", "space_group_from",
    "confident"}`` (the space group only with a space-group head, a prior or one indexing
    names; ``confident``: M ≥ the threshold for an indexed file, null without one; the
    network's own flag where it answers; false for the prior's guess), and ``"also_possible":
    ["trigonal"]`` when indexing answers hexagonal: the lines of a primitive hexagonal lattice
    cannot tell the trigonal P groups from the hexagonal ones (the confidence is the cell's)."""
    indexed = bool(result.get("indexed"))
    source = "network"
    if not indexed and meta.get("indexing_fallback") == "prior" and meta.get("class_prior"):
        probs, source = prior_probabilities(np.asarray(meta["class_prior"]), 1), "prior"
    sg_prior = meta.get("space_group_prior")
    got = indexing_first([result], probs, None if sg_prior is None
                         else np.asarray(sg_prior, float))
    out: dict[str, Any] = {
        "crystal_system": CRYSTAL_SYSTEMS[int(got["crystal_system"][0].argmax())],
        "from": "indexing" if indexed else source}
    if "space_group" in got:
        group = int(got["space_group"][0].argmax()) + 1
        out.update(space_group=group, space_group_symbol=space_group_symbol(group),
                   space_group_from="indexing" if indexed and result.get("space_group")
                   else source)
    if indexed and out["crystal_system"] == "hexagonal":
        out["also_possible"] = ["trigonal"]     # a primitive hexagonal lattice: the same lines
    m = float((result.get("solution") or {}).get("M", 0.0))
    m_threshold = meta.get("indexing_m_threshold")
    out["confident"] = ((None if m_threshold is None else bool(m >= m_threshold)) if indexed
                        else bool(network_confident) and source == "network")
    return out


def add_indexing(bundle: Bundle, axis: str = "2theta",
                 wavelength: str | float | None = None,
                 ) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    """The ``each`` of :func:`lib.xrd.classify.classify_files` for ``--index``: indexes the
    record's file (:func:`lib.xrd.indexing.index_file`, read as classified) and adds
    ``"indexing"`` (:func:`indexing_summary`, confident at the bundle's
    ``meta.indexing_m_threshold``) and ``"answer"`` (:func:`indexing_first_answer`, with the
    bundle's meta)."""
    m_threshold = bundle.meta.get("indexing_m_threshold")

    def each(record: dict[str, Any], probs: dict[str, np.ndarray]) -> None:
        result = index_file(record["file"], axis, wavelength)
        record["indexing"] = indexing_summary(result, m_threshold)
        record["answer"] = indexing_first_answer(result, probs, bundle.meta,
                                                 record["confident"])

    return each


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lib.xrd",
        description="Powder-XRD crystal-system classification (report 2).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("classify", help="classify pattern files with a trained model",
                       description="Classify powder patterns (Cu Kα, any 2θ range and step): "
                                   "two-column text (2θ, intensity) or .npy (n, 2).")
    p.add_argument("patterns", nargs="+", metavar="PATTERN")
    p.add_argument("--model", required=True,
                   help="model bundle folder (or its bundle.json / model.keras), e.g. "
                        "runs/default/models/06_xrd_classification/cnn1d")
    p.add_argument("--top", type=int, default=3, help="how many classes to print (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON list, a record per file")
    p.add_argument("--input", choices=INPUT_KINDS, default="auto",
                   help="profile (a scan), peaks (a peak list) or auto (default)")
    p.add_argument("--axis", choices=AXES, default="2theta",
                   help="first column: 2theta (degrees, default), d (d-spacing, Å) or q "
                        "(4π sin θ / λ, Å⁻¹)")
    p.add_argument("--wavelength", default=None,
                   help=f"wavelength of the measurement: {'|'.join(WAVELENGTH_NAMES)} or a "
                        "number in Å (default: the file's own for .xrdml, else the model's, "
                        "Cu Kα); the scan is mapped onto the model's Cu Kα 2θ through "
                        "d-spacings")
    p.add_argument("--force", action="store_true",
                   help="classify suspicious files too (flagged with warnings, not confident)")
    p.add_argument("--index", action="store_true",
                   help="also index each Cu Kα 2θ scan the classical way (no training): "
                        "crystal system, cell and de Wolff's M of the cell that indexes its "
                        "lines, and one answer: indexing first, the network where no cell "
                        "indexes them")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.wavelength is not None:
        try:
            wavelength_angstrom(args.wavelength)
        except ValueError as exc:
            parser.error(str(exc))
    try:
        bundle = load_bundle(args.model)
        records = classify_files(args.patterns, bundle, top=args.top, input_kind=args.input,
                                 axis=args.axis, wavelength=args.wavelength, force=args.force,
                                 each=(add_indexing(bundle, args.axis, args.wavelength)
                                       if args.index else None))
    except ValueError as exc:
        print(f"classify: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
    else:
        print(format_text(records))
    failed = [r for r in records if "error" in r]
    for rec in failed:
        print(f"classify: error: {rec['file']}: {rec['error']}", file=sys.stderr)
    if failed:
        print(f"classify: {len(failed)} of {len(records)} file(s) failed", file=sys.stderr)
    return 1 if failed else 0
