"""Classify measured or simulated powder patterns (Cu Kα) with a trained model bundle.

Command line (many files in one process)::

    python -m lib.xrd classify PATTERN [PATTERN ...] --model MODEL [--top 3] [--json]

From Python::

    from lib.xrd.classify import classify_files
    records = classify_files(["a.xy", "b.npy"], "runs/default/models/06_xrd_classification/cnn1d")

Each PATTERN is a two-column text file (2θ in degrees, intensity; whitespace, comma or
semicolon separated, or with a decimal comma as in ``12,5;300`` or ``12,5<tab>300``; UTF-8, or
UTF-8 / UTF-16 with a byte-order mark; ``#`` comments and one header line allowed; extra columns
ignored) or a ``.npy`` array of shape (n, 2) (or (2, n)), with any 2θ range and step.  A *profile* (a
measured or simulated scan on a regular step) is interpolated onto the model's 2θ grid (zero
outside the scanned range), its constant baseline (the minimum) removed, smoothed with the
model's σ and scaled to [0, 1], as the training patterns were.  A *peak list* (irregular 2θ,
such as pymatgen's ``XRDCalculator`` output) is placed on the grid exactly as in training.
``--input auto`` (default) calls a file a peak list when its 2θ steps are irregular.

Bad files (missing, empty, one column, non-numeric, NaN, 2θ not increasing, no overlap with the
model's grid, no signal, ambiguous commas, UTF-16 without a byte-order mark) get an error naming
the file and the reason; the other files are still classified.  Exit status: 0 all files
classified, 1 some files failed, 2 the model cannot be loaded (the message names the file and
what is missing or damaged).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import atomic
from .models import Bundle, load_bundle, predict_patterns
from .patterns import Grid, render, smooth_normalise

INPUT_KINDS = ("auto", "profile", "peaks")


class PatternError(ValueError):
    """A pattern file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


_SPLIT = re.compile(r"[\s,;]+")
_SEMICOLON = re.compile(r"[\s;]+")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"), (b"\xff\xfe", "utf-16", "UTF-16"),
         (b"\xfe\xff", "utf-16", "UTF-16"))


def decode_text(path: Path, raw: bytes) -> str:
    """The text of a pattern file: UTF-8, or UTF-8 / UTF-16 with a byte-order mark.

    ``PatternError`` for binary data, and for UTF-16 without a byte-order mark (said so)."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise PatternError(path, f"starts with a {name} byte-order mark but is not "
                                         f"valid {name} text") from None
    half = len(raw) // 2
    if half and max(raw[0::2].count(0), raw[1::2].count(0)) * 2 >= half:
        raise PatternError(path, "UTF-16 text without a byte-order mark: save it as UTF-8 "
                                 "(or UTF-16 with a byte-order mark)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PatternError(path, "not a text file (neither UTF-8 nor UTF-16 text, and not "
                                 ".npy)") from None


def _split_semicolon(line: str) -> list[str]:
    return [f for f in _SEMICOLON.split(line) if f]


def _split_any(line: str) -> list[str]:
    return [f for f in _SPLIT.split(line) if f]


def column_splitter(path: Path, lines: list[str]) -> tuple[Callable[[str], list[str]], bool]:
    """How data lines split into numbers: ``(split, decimal_comma)``.

    ``12,5;300`` (decimal comma, ``;`` between columns) and ``12,5 300`` (decimal comma,
    whitespace between columns) are read with the comma as the decimal mark; ``12.5,300``,
    ``12.5 300`` and ``12.5;300`` with the point.  Where a comma could be either (``12,5,300``
    with no decimal point anywhere in the file, or ``1.234,5``) a ``PatternError`` says so.
    """
    if any(";" in line for line in lines):
        fields = [f for line in lines for f in _split_semicolon(line)]
        both = next((f for f in fields if "," in f and "." in f), None)
        if both is not None:
            raise PatternError(path, f"ambiguous number {both!r}: both ',' and '.' in one value "
                                     "(thousands separators are not read)")
        return _split_semicolon, any("," in f for f in fields)
    words = [w for line in lines for w in line.split()]
    if (all(len(line.split()) >= 2 for line in lines)
            and any(_DECIMAL_COMMA.match(w) for w in words)
            and all(_DECIMAL_COMMA.match(w) or _is_number(w) for w in words)):
        return str.split, True
    if lines and all("," in line for line in lines) and not any("." in line for line in lines):
        widths = {len(_split_any(line)) for line in lines}
        if all(w >= 3 for w in widths):
            raise PatternError(path, "ambiguous commas: no decimal point anywhere and three or "
                                     "more comma-separated values per line, so ',' may be the "
                                     "decimal mark or the separator; write decimals with '.' "
                                     "or separate the columns with ';'")
    return _split_any, False


def _is_data_line(line: str) -> bool:
    """A line that holds numbers only (digits, signs, separators, exponents, nan/inf)."""
    return bool(re.fullmatch(r"[\s\d.,;+\-eE]*\d[\s\d.,;+\-eE]*", line))


def _read_text_rows(path: Path, text: str) -> tuple[np.ndarray, list[int]]:
    """The first two numeric columns of a text pattern and the line number of each row."""
    content = [(n, raw.split("#", 1)[0].strip()) for n, raw in
               enumerate(text.splitlines(), start=1)]
    content = [(n, line) for n, line in content if line]
    split, comma = column_splitter(path, [line for _, line in content if _is_data_line(line)])
    rows: list[list[float]] = []
    lines: list[int] = []
    header_seen = False
    ncols = None
    for lineno, line in content:
        fields = [f.replace(",", ".") for f in split(line)] if comma else split(line)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows and not header_seen and not any(_is_number(f) for f in fields):
                header_seen = True      # one header line ("2theta intensity")
                continue
            bad = next(f for f in fields if not _is_number(f))
            raise PatternError(path, f"line {lineno}: non-numeric value {bad!r}") from None
        if len(values) < 2:
            raise PatternError(path, f"one column (line {lineno}): need two columns, "
                                     "2θ and intensity")
        if ncols is not None and len(values) != ncols:
            raise PatternError(path, f"line {lineno}: {len(values)} columns, earlier "
                                     f"lines have {ncols}")
        ncols = len(values)
        rows.append(values[:2])
        lines.append(lineno)
    if not rows:
        raise PatternError(path, "empty: no data lines" if not header_seen else
                           "no numeric data after the header line")
    return np.array(rows, float), lines


def _read_npy(path: Path) -> np.ndarray:
    """The (n, 2) array of 2θ (degrees) and intensity of a ``.npy`` pattern."""
    try:
        arr = np.load(path, allow_pickle=False)
    except OSError:
        raise
    except Exception as exc:
        raise PatternError(path, f"not a readable .npy array ({type(exc).__name__}: {exc})") \
            from None
    if arr.size == 0:
        raise PatternError(path, "empty array")
    if not np.issubdtype(arr.dtype, np.number):
        raise PatternError(path, f"non-numeric array (dtype {arr.dtype})")
    if arr.ndim == 1:
        raise PatternError(path, "one column: need two columns, 2θ and intensity")
    if arr.ndim != 2:
        raise PatternError(path, f"array of shape {arr.shape}: need (n, 2)")
    if arr.shape[1] != 2 and arr.shape[0] == 2:
        arr = arr.T
    if arr.shape[1] < 2:
        raise PatternError(path, "one column: need two columns, 2θ and intensity")
    return arr[:, :2].astype(float)


def read_pattern(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """2θ (degrees) and intensity of a pattern file (text or ``.npy``); ``PatternError`` if bad."""
    path = Path(path)
    if not path.exists():
        raise PatternError(path, "no such file")
    if path.is_dir():
        raise PatternError(path, "is a folder, not a pattern file")
    first_line: list[int] | None = None
    try:
        if path.suffix.lower() == ".npy":
            data = _read_npy(path)
        else:
            data, first_line = _read_text_rows(path, decode_text(path, path.read_bytes()))
    except OSError as exc:
        raise PatternError(path, f"cannot be read ({type(exc).__name__}: "
                                 f"{exc.strerror or exc})") from None
    two_theta, intensity = data[:, 0], data[:, 1]
    if not np.all(np.isfinite(data)):
        i = int(np.argmax(~np.all(np.isfinite(data), axis=1)))
        where = f"line {first_line[i]}" if first_line else f"row {i}"
        raise PatternError(path, f"{where}: NaN or infinite value")
    if len(two_theta) < 2:
        raise PatternError(path, "only one data point")
    steps = np.diff(two_theta)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0)) + 1
        where = f"line {first_line[i]}" if first_line else f"row {i}"
        raise PatternError(path, f"2θ not increasing ({where}: {two_theta[i]:g} after "
                                 f"{two_theta[i - 1]:g})")
    if two_theta[0] < 0 or two_theta[-1] > 180:
        raise PatternError(path, f"2θ outside 0–180° ({two_theta[0]:g}–{two_theta[-1]:g}): "
                                 "is the first column 2θ in degrees?")
    return two_theta, intensity


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def looks_like_peak_list(two_theta: np.ndarray) -> bool:
    """True when 2θ steps are irregular (a peak list) rather than a regular scan (a profile)."""
    steps = np.diff(two_theta)
    if len(steps) < 3:
        return True
    return float(np.std(steps) / np.mean(steps)) > 0.5


def to_model_input(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid, sigma: float,
                   kind: str = "auto", name: str = "pattern") -> tuple[np.ndarray, str]:
    """The (n_points,) vector a model expects, and whether it was read as profile or peaks."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"--input must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    if kind == "auto":
        kind = "peaks" if looks_like_peak_list(two_theta) else "profile"
    lo, hi = grid.two_theta_min, grid.two_theta_max
    if two_theta[-1] < lo or two_theta[0] > hi:
        raise PatternError(name, f"2θ range {two_theta[0]:g}–{two_theta[-1]:g}° does not overlap "
                                 f"the model's grid {lo:g}–{hi:g}°")
    if kind == "peaks":
        vec = render(two_theta, np.clip(intensity, 0, None), grid, sigma)
    else:
        g = grid.two_theta
        inside = (g >= two_theta[0]) & (g <= two_theta[-1])
        vec = np.zeros(grid.n_points)
        vec[inside] = np.interp(g[inside], two_theta, intensity)
        if inside.any():
            vec[inside] -= vec[inside].min()
        vec = smooth_normalise(np.clip(vec, 0, None), sigma)
    if not np.any(vec > 0):
        raise PatternError(name, "no signal: intensity is constant or zero on the model's grid")
    return vec.astype(np.float32), kind


def _top(probs: np.ndarray, labels: list[str], k: int, head: str) -> list[dict[str, Any]]:
    order = np.argsort(probs)[::-1][:k]
    out = []
    for i in order:
        item: dict[str, Any] = {"label": labels[i], "p": round(float(probs[i]), 4)}
        if head == "space_group":
            item["symbol"] = _sg_symbol(int(labels[i]))
        out.append(item)
    return out


def _sg_symbol(number: int) -> str:
    try:
        from pymatgen.symmetry.groups import SpaceGroup

        return SpaceGroup.from_int_number(number).symbol
    except Exception:
        return ""


def classify_files(paths: str | Path | Sequence[str | Path], model: str | Path | Any,
                   top: int = 3, input_kind: str = "auto") -> list[dict[str, Any]]:
    """Classify every file (or the one file ``paths`` names); one record per file, in order.

    A record is ``{"file", "read_as", "crystal_system": [{"label", "p"}, ...],
    "space_group": [{"label", "symbol", "p"}, ...]}`` (``space_group`` only when the model has
    that head), or ``{"file", "error"}`` for a file that could not be used.  ``model`` is a
    bundle path or a loaded :class:`lib.xrd.models.Bundle`.  Raises ``ValueError`` (naming the
    file) when the model cannot be loaded.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    bundle = model if isinstance(model, Bundle) else load_bundle(model)
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    records: list[dict[str, Any]] = [{} for _ in paths]
    vectors, where, kinds = [], [], []
    for i, path in enumerate(paths):
        try:
            tt, inten = read_pattern(path)
            vec, kind = to_model_input(tt, inten, bundle.grid, bundle.sigma, input_kind,
                                       name=str(path))
        except PatternError as exc:
            records[i] = {"file": str(path), "error": exc.reason}
            continue
        vectors.append(vec)
        where.append(i)
        kinds.append(kind)
    if vectors:
        probs = predict_patterns(bundle.model, bundle.kind, np.stack(vectors), bundle.image_size)
        for j, i in enumerate(where):
            rec: dict[str, Any] = {"file": str(paths[i]), "read_as": kinds[j]}
            for head, labels in bundle.heads.items():
                rec[head] = _top(probs[head][j], labels, top, head)
            records[i] = rec
    return records


def write_scans(peak_lists: Sequence[tuple[np.ndarray, np.ndarray]], names: Sequence[str],
                folder: str | Path, two_theta: np.ndarray, sigma_deg: float = 0.06,
                background: float = 2.0, headers: Sequence[str] | None = None) -> list[Path]:
    """Write each peak list (2θ in degrees, intensity) as a two-column scan file
    ``<folder>/<name>.xy``: Gaussian peaks (σ = ``sigma_deg`` degrees) on the 2θ points
    ``two_theta`` over a flat ``background``, as a user would give the command.  Written
    atomically."""
    folder = Path(folder)
    paths = []
    for j, ((tt, inten), name) in enumerate(zip(peak_lists, names)):
        prof = background + sum(h * np.exp(-0.5 * ((two_theta - p) / sigma_deg) ** 2)
                                for p, h in zip(tt, inten))
        with atomic.atomic_path(folder / f"{name}.xy") as tmp:
            np.savetxt(tmp, np.column_stack([two_theta, prof]), fmt="%.4f",
                       header=headers[j] if headers else "")
        paths.append(folder / f"{name}.xy")
    return paths


def format_text(records: list[dict[str, Any]]) -> str:
    """Human-readable lines for the records of :func:`classify_files`."""
    lines = []
    for rec in records:
        if "error" in rec:
            lines.append(f"{rec['file']}: ERROR {rec['error']}")
            continue
        lines.append(f"{rec['file']} (read as {rec['read_as']}):")
        cs = ", ".join(f"{c['label']} {c['p']:.3f}" for c in rec["crystal_system"])
        lines.append(f"  crystal system: {cs}")
        if "space_group" in rec:
            sg = ", ".join(f"{c['label']} ({c['symbol']}) {c['p']:.3f}" for c in rec["space_group"])
            lines.append(f"  space group:    {sg}")
    return "\n".join(lines)


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
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    try:
        records = classify_files(args.patterns, args.model, top=args.top, input_kind=args.input)
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
