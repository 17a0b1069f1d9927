"""Classify measured or simulated powder patterns with a trained model bundle.

Command line (many files in one process)::

    python -m lib.xrd classify PATTERN [PATTERN ...] --model MODEL [--top 3] [--json]
        [--wavelength CuKa|CuKa1|MoKa|CoKa|CrKa|FeKa|AgKa|<Å>] [--axis 2theta|d|q] [--force]
        [--index]

(parsed in :mod:`lib.xrd.cli`; ``--index`` adds classical indexing, :mod:`lib.xrd.indexing`.)

From Python::

    from lib.xrd.classify import classify_files
    records = classify_files(["a.xy", "b.npy"], "runs/default/models/06_xrd_classification/cnn1d")

Each PATTERN is a two-column text file (``.xy``, ``.xye``, ``.csv``, ``.dat``, ...: position,
intensity; whitespace, comma or semicolon separated, or with a decimal comma as in ``12,5;300``
or ``12,5<tab>300``; UTF-8, or UTF-8 / UTF-16 with a byte-order mark; ``#`` comments and one
header line allowed; extra columns such as an error column ignored), a ``.npy`` array of shape
(n, 2) (or (2, n)), or a PANalytical ``.xrdml`` file (XML, read with the standard library;
its Kα wavelength is used unless ``--wavelength`` is given); Bruker ``.brml`` / ``.raw`` and
Rigaku ``.rasx`` through the optional package ``fairmat-readers-xrd`` when it is installed.
Any range and step.

**Axis and wavelength.**  The first column is 2θ in degrees (``--axis 2theta``), a d-spacing
in Å (``d``) or q = 4π sin θ / λ in Å⁻¹ (``q``).  A scan measured at another wavelength is
mapped onto the model's (Cu Kα, recorded in the bundle) through the d-spacing:
2θ' = 2 asin(λ_model / λ · sin θ); points the model's wavelength cannot reach are dropped.

**Preprocessing** (:func:`preprocess`, the same function the training patterns go through).
A *profile* (a scan on a regular step) is put on the model's grid (mean over each grid cell
when the scan is finer; zero outside the scanned range), its minimum removed, smoothed with
the model's σ; a *peak list* (irregular positions, such as pymatgen's ``XRDCalculator``
output) is placed on the grid exactly as in training.  Then the bundle's background treatment
(``none`` or ``snip``) and scaling to [0, 1].  ``--input auto`` (default) calls a file a peak
list when its steps are irregular.

**Suspicious input is flagged, not silently classified**: 2θ in radians (never above 3.2), a
d or q column read as 2θ (decreasing, or ending below 20°), an upside-down pattern (peaks
pointing down), a scan whose strong peaks all lie outside the model's 2θ range.  Such a file
gets an error with ``"suspicious": true`` and the reason; ``--force`` classifies it anyway,
with warnings and ``"confident": false``.  Each record says ``"confident"``: the top
crystal-system probability (temperature-scaled with the bundle's ``meta.temperature``, then
corrected for the crystal-system frequencies ``meta.class_prior`` when the bundle has them)
reaches the bundle's ``confidence_threshold`` (0 until a
calibration sets it).

Bad files (missing, empty, one column, non-numeric, NaN, 2θ not increasing, no overlap with the
model's grid, no signal, ambiguous commas, UTF-16 without a byte-order mark, broken XML) get an
error naming the file and the reason; the other files are still classified.  Exit status: 0
all files classified, 1 some files failed or were refused, 2 the model cannot be loaded (the
message names the file and what is missing or damaged).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .. import atomic
from .calibration import prior_corrected
from .models import Bundle, load_bundle, predict_patterns
from .patterns import CU_KA, Grid, render, smooth_normalise

INPUT_KINDS = ("auto", "profile", "peaks")
#: The first column of a file: 2θ (degrees), d-spacing (Å) or q = 4π sin θ / λ (Å⁻¹).
AXES = ("2theta", "d", "q")
#: Wavelength names --wavelength accepts (pymatgen's WAVELENGTHS); or a number in Å.
WAVELENGTH_NAMES = ("CuKa", "CuKa1", "MoKa", "CoKa", "CrKa", "FeKa", "AgKa")
#: Background treatments of :func:`preprocess`.
BACKGROUNDS = ("none", "snip")
#: SNIP clipping half-window, degrees 2θ: wider than the smoothed peaks (SNIP keeps ≥ 98.8 % of
#: the intensity of simulated MP patterns of low symmetry, ≥ 99.8 % for most), narrow enough
#: to take most of an amorphous hump (FWHM 12°) with the background (1.5–3° leave 2–4× more
#: of it; tests/test_xrd_measured.py).
SNIP_HALF_WINDOW_DEG = 1.0
#: Suspicion thresholds: 2θ that never exceeds 3.2 is radians (π = 180°); a scan that ends
#: below 20° covers only d > 4.4 Å (Cu Kα) and is more likely a d or q column; peaks point
#: down when the intensity reaches 3× further below its median than above it.
RADIANS_MAX, SHORT_SCAN_MAX, UPSIDE_DOWN_RATIO = 3.2, 20.0, 3.0


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


_PLAIN = re.compile(r"[\d \t\r\n.eE+\-]*")


def _read_plain_rows(text: str) -> tuple[np.ndarray, list[int]] | None:
    """The fast path of :func:`_read_text_rows` for the commonest file — numbers with decimal
    points separated by blanks, the same number of columns on every line, no header, comment
    or blank line inside (``numpy.loadtxt``); None for anything else (then the general reader
    decides, with its messages)."""
    body = text.strip("\r\n")
    if not body or not _PLAIN.fullmatch(body) or re.search(r"\n[ \t\r]*\n", body):
        return None
    import io

    try:
        arr = np.loadtxt(io.StringIO(body), ndmin=2)
    except ValueError:
        return None
    if arr.shape[1] < 2:
        return None
    start = text.count("\n", 0, text.index(body[0])) + 1
    return arr[:, :2], list(range(start, start + len(arr)))


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


# ---------------------------------------------------------------------------------------------
# Instrument files (.xrdml), axes and wavelengths
# ---------------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def read_xrdml(path: Path) -> tuple[np.ndarray, np.ndarray, float | None]:
    """2θ (degrees), intensity (counts) and the Kα wavelength (Å, or None) of a PANalytical
    ``.xrdml`` file, read with the standard library's XML parser.

    The first ``<scan>`` is read: its ``positions axis="2Theta"`` (``startPosition`` /
    ``endPosition``, points evenly spaced, or a ``listPositions``) and its ``intensities`` (or
    ``counts`` times ``beamAttenuationFactors``), as ``fairmat_readers_xrd`` reads them
    (tested against it where it is installed).  The wavelength is the intensity-weighted
    Kα1/Kα2 mean of ``usedWavelength`` ((λ₁ + r λ₂)/(1 + r), r = ``ratioKAlpha2KAlpha1``).
    ``PatternError`` when it is not such a file."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise PatternError(path, f"not a readable .xrdml (XML) file ({exc})") from None
    scan = next((e for e in root.iter() if _local(e.tag) == "scan"), None)
    if scan is None:
        raise PatternError(path, ".xrdml file without a <scan>")
    counts = next((e for e in scan.iter() if _local(e.tag) in ("intensities", "counts")), None)
    pos = next((e for e in scan.iter() if _local(e.tag) == "positions"
                and e.get("axis", "").lower() == "2theta"), None)
    if counts is None or pos is None:
        raise PatternError(path, ".xrdml scan without 2Theta positions or intensities")
    attenuation = next((e for e in scan.iter() if _local(e.tag) == "beamAttenuationFactors"),
                       None)
    try:
        y = np.array((counts.text or "").split(), float)
        if _local(counts.tag) == "counts" and attenuation is not None:
            y = y * np.array((attenuation.text or "").split(), float)
        child = {_local(c.tag): (c.text or "").strip() for c in pos}
        if "listPositions" in child:
            x = np.array(child["listPositions"].split(), float)
        else:
            x = np.linspace(float(child["startPosition"]), float(child["endPosition"]), len(y))
    except (KeyError, ValueError) as exc:
        raise PatternError(path, f".xrdml scan with unreadable positions or intensities "
                                 f"({type(exc).__name__}: {exc})") from None
    if pos.get("unit", "deg").lower() not in ("deg", "degree", "degrees"):
        raise PatternError(path, f".xrdml 2Theta positions in {pos.get('unit')!r}, not degrees")
    if len(x) != len(y) or len(y) < 2:
        raise PatternError(path, f".xrdml scan with {len(x)} positions and {len(y)} intensities")
    lam = None
    used = next((e for e in root.iter() if _local(e.tag) == "usedWavelength"), None)
    if used is not None:
        vals = {_local(c.tag): (c.text or "").strip() for c in used}
        try:
            l1 = float(vals["kAlpha1"])
            l2 = float(vals.get("kAlpha2", l1))
            r = float(vals.get("ratioKAlpha2KAlpha1", 0.5))
            lam = (l1 + r * l2) / (1 + r)
        except (KeyError, ValueError):
            lam = None
    return x, y, lam


#: Instrument formats read through the optional package ``fairmat-readers-xrd``.
INSTRUMENT_SUFFIXES = (".brml", ".raw", ".rasx")


def read_instrument_file(path: Path) -> tuple[np.ndarray, np.ndarray, float | None]:
    """2θ (degrees), intensity and Kα wavelength (Å, or None) of a Bruker ``.brml`` / ``.raw``
    or Rigaku ``.rasx`` file through ``fairmat_readers_xrd.read_file`` (FAIRmat's readers,
    optional: ``PatternError`` saying so when the package is not installed)."""
    try:
        import fairmat_readers_xrd
    except ImportError:
        raise PatternError(path, f"{path.suffix} files need the reader package "
                                 "fairmat-readers-xrd (pip install fairmat-readers-xrd), which "
                                 "is not installed; or export the scan as .xy") from None
    try:
        data = fairmat_readers_xrd.read_file(str(path))
        tt = data["2Theta"]
        x = np.asarray(tt.to("degree").magnitude if hasattr(tt, "to") else tt, float).ravel()
        inten = data["intensity"]
        y = np.asarray(getattr(inten, "magnitude", inten), float).ravel()
    except Exception as exc:  # the reader's own errors, whatever their type
        raise PatternError(path, f"not readable by fairmat-readers-xrd ({type(exc).__name__}: "
                                 f"{exc})"[:300]) from None
    if len(x) != len(y):
        raise PatternError(path, f"{len(x)} 2θ positions but {len(y)} intensities")
    lam = None
    source = (data.get("metadata") or {}).get("source") or {}
    try:
        l1 = source.get("kAlpha1")
        if l1 is not None:
            l1 = float(l1.to("angstrom").magnitude)
            l2 = source.get("kAlpha2")
            l2 = float(l2.to("angstrom").magnitude) if l2 is not None else l1
            r = source.get("ratioKAlpha2KAlpha1")
            r = float(getattr(r, "magnitude", r)) if r is not None else 0.5
            lam = (l1 + r * l2) / (1 + r)
    except Exception:
        lam = None
    return x, y, lam


def wavelength_angstrom(value: str | float) -> float:
    """The X-ray wavelength λ (Å) of a name (``CuKa``, ``CuKa1``, ``MoKa``, ``CoKa``, ``CrKa``,
    ``FeKa``, ``AgKa``: pymatgen's ``WAVELENGTHS``, Kα = weighted Kα1/Kα2 mean) or a number in Å
    (0.1–5)."""
    if isinstance(value, str) and value[:1].isalpha():
        from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

        if value in WAVELENGTHS:
            return float(WAVELENGTHS[value])
    try:
        lam = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--wavelength must be one of {', '.join(WAVELENGTH_NAMES)} or a "
                         f"wavelength in Å, got {value!r}") from None
    if not 0.1 <= lam <= 5.0:
        raise ValueError(f"--wavelength {lam} Å is not an X-ray wavelength (0.1–5 Å)")
    return lam


def to_two_theta(x: np.ndarray, axis: str, wavelength: float,
                 model_wavelength: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions on the model's 2θ scale (degrees, for ``model_wavelength`` Å) of a scan axis,
    and which points the model's wavelength can reach.

    ``axis``: ``"2theta"`` (degrees, measured at ``wavelength`` Å), ``"d"`` (d-spacing, Å) or
    ``"q"`` (scattering vector 4π sin θ / λ, Å⁻¹).  Through the d-spacing d = λ / (2 sin θ):
    sin θ' = λ' / (2d), so 2θ' = 2 asin(λ'/λ · sin θ) for a 2θ axis.  Points with sin θ' > 1
    (a d-spacing shorter than λ'/2) are not reachable and come back False."""
    x = np.asarray(x, float)
    if axis == "2theta":
        s = (model_wavelength / wavelength) * np.sin(np.radians(x) / 2)
    elif axis == "d":
        with np.errstate(divide="ignore"):
            s = model_wavelength / (2 * x)
    elif axis == "q":
        s = model_wavelength * x / (4 * np.pi)
    else:
        raise ValueError(f"--axis must be one of {', '.join(AXES)}, got {axis!r}")
    ok = np.isfinite(s) & (s >= 0) & (s <= 1)
    out = np.full(len(x), np.nan)
    out[ok] = np.degrees(2 * np.arcsin(s[ok]))
    return out, ok


@dataclass
class Scan:
    """A pattern read from a file and put on the model's 2θ scale (degrees, increasing).

    ``suspicions``: reasons to doubt the reading (radians, d or q read as 2θ, upside down,
    peaks outside the model's range); a suspicious scan is refused unless forced."""

    two_theta: np.ndarray
    intensity: np.ndarray
    raw_x: np.ndarray
    axis: str
    wavelength: float
    wavelength_source: str
    suspicions: list[str] = field(default_factory=list)


def _suspicious_axis(x: np.ndarray, axis: str) -> list[str]:
    """Reasons why the first column does not look like ``axis`` (2θ in degrees, d in Å, q in
    Å⁻¹)."""
    out = []
    if axis == "2theta":
        if len(x) > 2 and np.all(np.diff(x) < 0):
            out.append(f"2θ decreases along the file ({x[0]:g} → {x[-1]:g}): a d-spacing column "
                       "(Å)? use --axis d (or --axis q for q in Å⁻¹)")
        elif x.max() <= RADIANS_MAX:
            out.append(f"2θ only reaches {x.max():g}: 2θ in radians (convert to degrees) or a "
                       "q column (use --axis q)?")
        elif x.max() < SHORT_SCAN_MAX:
            out.append(f"2θ ends at {x.max():g}°, values typical of a d-spacing (Å) or q "
                       "(Å⁻¹) column: use --axis d or --axis q (or --force for a short 2θ scan)")
    elif axis == "d":
        if np.any(x <= 0):
            out.append("d-spacings ≤ 0 Å: is the first column d in Å?")
        elif x.max() > 100:
            out.append(f"d-spacings up to {x.max():g} Å: is the first column 2θ (use --axis "
                       "2theta)?")
    elif axis == "q":
        if np.any(x < 0):
            out.append("negative q: is the first column q in Å⁻¹?")
        elif x.max() > 4 * np.pi / 0.1:
            out.append(f"q up to {x.max():g} Å⁻¹: is the first column 2θ (use --axis 2theta)?")
    return out


def upside_down(intensity: np.ndarray) -> bool:
    """True when the pattern's peaks point down: the intensities reach much further below their
    median (the background) than above it (``UPSIDE_DOWN_RATIO``), as in a negated or
    inverted scan."""
    y = np.asarray(intensity, float)
    med = float(np.median(y))
    # the 0.1 % quantile, not the minimum: a few dropped-out detector points are not peaks
    below, above = med - float(np.percentile(y, 0.1)), float(y.max()) - med
    return below > UPSIDE_DOWN_RATIO * max(above, 1e-12 * max(abs(med), 1.0))


def peaks_outside(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid) -> str | None:
    """A reason when every strong peak of the scan (prominence ≥ 20 % of the strongest, scipy's
    ``find_peaks``) lies outside the model's 2θ range; None otherwise."""
    from scipy.signal import find_peaks

    y = np.asarray(intensity, float)
    idx, props = find_peaks(y, prominence=0.0)
    if len(idx) == 0:
        return None
    prom = props["prominences"]
    strong = idx[prom >= 0.2 * prom.max()]
    tt = two_theta[strong]
    inside = (tt >= grid.two_theta_min) & (tt <= grid.two_theta_max)
    if inside.any():
        return None
    return (f"all strong peaks lie outside the model's 2θ range {grid.two_theta_min:g}–"
            f"{grid.two_theta_max:g}° (at {', '.join(f'{t:.1f}' for t in tt[:5])}° on the "
            "model's wavelength): a different wavelength or axis?")


def read_columns(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[int] | None,
                                            float | None]:
    """The first two columns of a pattern file (position, intensity), the line of each row
    (text files), and the wavelength the file names (Å; ``.xrdml`` only).  Every value is
    finite and there are at least two rows; the position axis is not checked here."""
    path = Path(path)
    if not path.exists():
        raise PatternError(path, "no such file")
    if path.is_dir():
        raise PatternError(path, "is a folder, not a pattern file")
    first_line: list[int] | None = None
    lam = None
    try:
        suffix = path.suffix.lower()
        if suffix == ".npy":
            data = _read_npy(path)
        elif suffix == ".xrdml":
            x, y, lam = read_xrdml(path)
            data = np.column_stack([x, y])
        elif suffix in INSTRUMENT_SUFFIXES:
            x, y, lam = read_instrument_file(path)
            data = np.column_stack([x, y])
        else:
            text = decode_text(path, path.read_bytes())
            data, first_line = _read_plain_rows(text) or _read_text_rows(path, text)
    except OSError as exc:
        raise PatternError(path, f"cannot be read ({type(exc).__name__}: "
                                 f"{exc.strerror or exc})") from None
    if not np.all(np.isfinite(data)):
        i = int(np.argmax(~np.all(np.isfinite(data), axis=1)))
        where = f"line {first_line[i]}" if first_line else f"row {i}"
        raise PatternError(path, f"{where}: NaN or infinite value")
    if len(data) < 2:
        raise PatternError(path, "only one data point")
    return data[:, 0], data[:, 1], first_line, lam


def load_scan(path: str | Path, axis: str = "2theta", wavelength: str | float | None = None,
              model_wavelength: float = CU_KA) -> Scan:
    """Read a pattern file and put it on the model's 2θ scale (see :class:`Scan`).

    ``wavelength``: of the measurement (name or Å); None = the file's own (``.xrdml``) or else
    the model's.  Unusable files raise ``PatternError``; doubtful ones carry ``suspicions``."""
    if axis not in AXES:
        raise ValueError(f"--axis must be one of {', '.join(AXES)}, got {axis!r}")
    x, y, first_line, file_lam = read_columns(path)
    if wavelength is not None:
        lam, source = wavelength_angstrom(wavelength), "given"
    elif file_lam is not None:
        lam, source = file_lam, "file"
    else:
        lam, source = model_wavelength, "model"
    suspicions = _suspicious_axis(x, axis)
    steps = np.diff(x)
    monotonic = np.all(steps > 0) or np.all(steps < 0)
    if not monotonic:
        bad = np.argmax(steps <= 0) if steps[0] > 0 else np.argmax(steps >= 0)
        i = int(bad) + 1
        where = f"line {first_line[i]}" if first_line else f"row {i}"
        name = "2θ" if axis == "2theta" else axis
        raise PatternError(path, f"{name} not increasing ({where}: {x[i]:g} after "
                                 f"{x[i - 1]:g})")
    if axis == "2theta" and (x.min() < 0 or x.max() > 180):
        raise PatternError(path, f"2θ outside 0–180° ({x.min():g}–{x.max():g}): is the first "
                                 "column 2θ in degrees?")
    if axis == "2theta" and abs(lam - model_wavelength) < 1e-9:
        tt, ok = x.astype(float), np.ones(len(x), bool)
    else:
        tt, ok = to_two_theta(x, axis, lam, model_wavelength)
    if ok.sum() < 2:
        raise PatternError(path, f"no point of the scan can be reached at the model's "
                                 f"wavelength {model_wavelength:g} Å (d-spacings shorter than "
                                 f"{model_wavelength / 2:g} Å)")
    tt, inten, raw = tt[ok], y[ok], x[ok]
    order = np.argsort(tt)
    tt, inten, raw = tt[order], inten[order], raw[order]
    if upside_down(y):
        suspicions.append("the peaks point down (intensities far below the background, none "
                          "far above): an upside-down or negated pattern?")
    return Scan(tt, inten, raw, axis, lam, source, suspicions)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Preprocessing: the same for training patterns and for files
# ---------------------------------------------------------------------------------------------

def _edge_line(arr: np.ndarray, start: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line (intercept at index 0, slope per grid point) through ``width`` points
    of each row from index ``start`` (pybaselines' "extrapolate" padding)."""
    idx = start[:, None] + np.arange(width)[None, :]
    y = np.take_along_axis(arr, np.clip(idx, 0, arr.shape[1] - 1), axis=1)
    x = idx.astype(float)
    xm, ym = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    var = ((x - xm) ** 2).sum(axis=1)
    slope = np.where(var > 0, ((x - xm) * (y - ym)).sum(axis=1) / np.where(var > 0, var, 1), 0.0)
    return ym[:, 0] - slope * xm[:, 0], slope


def snip_baseline(vectors: np.ndarray, half_window: int, first: np.ndarray | None = None,
                  last: np.ndarray | None = None) -> np.ndarray:
    """The SNIP background (Ryan et al. 1988; Morháč et al. 1997) of each row of ``vectors``
    (intensity on a regular 2θ grid): clipping window growing from 1 to ``half_window`` grid
    points, second-order filter.  Outside each row's scanned range ``first``…``last`` (default:
    the whole row) and beyond the grid, the row is extended by straight lines fitted to its
    ``half_window`` edge points (pybaselines' "extrapolate" padding), so a background that
    rises steeply towards a scan's edge is not clipped there — but never below the edge value,
    so the tail of a peak at the edge does not drag the background down.

    For a whole row whose background rises towards both edges, the same numbers as
    ``pybaselines.smooth.snip(row, half_window)`` (tested), for a whole batch at once."""
    arr = np.atleast_2d(np.asarray(vectors, float))
    rows, n = arr.shape
    m = int(min(max(int(half_window), 0), (n - 1) // 2))
    if m == 0:
        return arr.copy()
    first = np.zeros(rows, int) if first is None else np.asarray(first, int)
    last = np.full(rows, n - 1) if last is None else np.asarray(last, int)
    width = np.minimum(m, last - first + 1)
    w = int(max(width.min(), 1))
    a_left, s_left = _edge_line(arr, first, w)
    a_right, s_right = _edge_line(arr, last - w + 1, w)
    j = np.arange(-m, n + m)[None, :]
    edge_left = np.take_along_axis(arr, first[:, None], 1)
    edge_right = np.take_along_axis(arr, last[:, None], 1)
    left = np.maximum(a_left[:, None] + s_left[:, None] * j, edge_left)
    right = np.maximum(a_right[:, None] + s_right[:, None] * j, edge_right)
    b = np.where(j < first[:, None], left,
                 np.where(j > last[:, None], right,
                          np.take_along_axis(arr, np.clip(j, 0, n - 1).repeat(rows, 0), 1)))
    size = n + 2 * m
    for i in range(1, m + 1):
        clip = (b[:, :size - 2 * i] + b[:, 2 * i:]) / 2
        np.minimum(b[:, i:size - i], clip, out=b[:, i:size - i])
    return b[:, m:size - m]


def _scanned_range(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last grid index of each row with intensity > 0 (the scanned range; a row
    without signal gets (0, n − 1))."""
    pos = arr > 0
    n = arr.shape[1]
    first = pos.argmax(axis=1)
    last = n - 1 - pos[:, ::-1].argmax(axis=1)
    none = ~pos.any(axis=1)
    first[none], last[none] = 0, n - 1
    return first, last


def subtract_background(vectors: np.ndarray, grid: Grid, method: str = "none",
                        half_window_deg: float = SNIP_HALF_WINDOW_DEG) -> np.ndarray:
    """Intensity above the background of each pattern on ``grid`` (rows of ``vectors``).

    ``"none"``: unchanged.  ``"snip"``: :func:`snip_baseline` with a window of
    ``half_window_deg`` degrees 2θ, computed over the scanned range only (the zeros outside a
    scan's range are not background: the row is extended by lines fitted at the edges of its
    range while clipping) and subtracted; what falls below zero is set to zero, and so is
    everything outside the scanned range."""
    if method not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, got {method!r}")
    arr = np.atleast_2d(np.asarray(vectors, float))
    if method == "none":
        return arr.copy()
    half = int(round(half_window_deg / grid.step))
    out = np.empty_like(arr)
    cols = np.arange(arr.shape[1])
    for start in range(0, len(arr), 512):
        part = arr[start:start + 512]
        first, last = _scanned_range(part)
        res = np.clip(part - snip_baseline(part, half, first, last), 0, None)
        res[(cols[None, :] < first[:, None]) | (cols[None, :] > last[:, None])] = 0.0
        out[start:start + 512] = res
    return out


def preprocess(vectors: np.ndarray, grid: Grid, background: str = "none") -> np.ndarray:
    """What a model sees, from patterns already on its grid and smoothed: the background
    removed (``background``: ``"none"`` or ``"snip"``, :func:`subtract_background`), negative
    values set to zero and each pattern scaled to [0, 1].  Training patterns (simulated,
    augmented) and files (:func:`to_model_input`) both pass through here; returns float32 of
    the input's shape ((n_points,) or (n, n_points))."""
    arr = np.asarray(vectors, float)
    out = smooth_normalise(np.clip(subtract_background(arr, grid, background), 0, None), 0.0)
    return out.reshape(arr.shape).astype(np.float32)


def smooth_scans(vectors: np.ndarray, sigma: float) -> np.ndarray:
    """Measured-like profiles on a grid (rows; zero outside each scan's range) smoothed as
    :func:`to_model_input` smooths a measured file: a Gaussian of σ = ``sigma`` grid points
    within each row's scanned range (first to last point > 0), the range's edge values
    repeated beyond it ("nearest"), zero outside.  Simulated measurements
    (:mod:`lib.xrd.simulate`) pass through here before :func:`preprocess`, so that their counting
    noise is smoothed as a file's is (without it a simulated scan has ~4× the point-to-point
    noise of a measured RRUFF scan read by ``classify``).  float32, the input's shape."""
    arr = np.atleast_2d(np.asarray(vectors, float))
    if sigma <= 0:
        return arr.reshape(np.shape(vectors)).astype(np.float32)
    first, last = _scanned_range(arr)
    cols = np.arange(arr.shape[1])[None, :]
    edge_lo = np.take_along_axis(arr, first[:, None], 1)
    edge_hi = np.take_along_axis(arr, last[:, None], 1)
    filled = np.where(cols < first[:, None], edge_lo, np.where(cols > last[:, None], edge_hi, arr))
    out = gaussian_filter1d(filled, sigma, axis=1, mode="nearest")
    out[(cols < first[:, None]) | (cols > last[:, None])] = 0.0
    return out.reshape(np.shape(vectors)).astype(np.float32)


def scan_inputs(scans: np.ndarray, grid: Grid, sigma: float, background: str = "none",
                chunk: int = 1024) -> np.ndarray:
    """Model inputs (n, n_points) float32 from measured-like scans on ``grid`` (rows, zero
    outside each scan's range; e.g. :func:`lib.xrd.simulate.simulate`): smoothed with σ grid
    points as :func:`to_model_input` smooths a measured file (:func:`smooth_scans`), then
    :func:`preprocess` with ``background`` — a simulated measurement becomes the vector a file of
    it would give; in chunks of ``chunk`` rows (preprocessing works in float64)."""
    arr = np.atleast_2d(np.asarray(scans))
    out = np.empty(arr.shape, np.float32)
    for lo in range(0, len(arr), chunk):
        out[lo:lo + chunk] = preprocess(smooth_scans(arr[lo:lo + chunk], sigma), grid,
                                        background)
    return out.reshape(np.shape(scans))


def resample_profile(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid) -> np.ndarray:
    """A measured profile (2θ increasing, degrees) on the model's grid, zero outside the
    scanned range.  Where the scan is finer than the grid, each grid point takes the mean
    intensity over its grid cell (from the cumulative trapezoid integral), so narrow peaks
    keep their area as the simulated peaks placed on the grid do; otherwise linear
    interpolation."""
    g = grid.two_theta
    inside = (g >= two_theta[0]) & (g <= two_theta[-1])
    vec = np.zeros(grid.n_points)
    if float(np.median(np.diff(two_theta))) < grid.step:
        from scipy.integrate import cumulative_trapezoid

        cum = cumulative_trapezoid(intensity, two_theta, initial=0.0)
        a = np.clip(g[inside] - grid.step / 2, two_theta[0], two_theta[-1])
        b = np.clip(g[inside] + grid.step / 2, two_theta[0], two_theta[-1])
        width = b - a
        mean = (np.interp(b, two_theta, cum) - np.interp(a, two_theta, cum))
        vec[inside] = np.where(width > 0, mean / np.where(width > 0, width, 1),
                               np.interp(g[inside], two_theta, intensity))
    else:
        vec[inside] = np.interp(g[inside], two_theta, intensity)
    return vec


def looks_like_peak_list(positions: np.ndarray) -> bool:
    """True when the steps between positions are irregular (a peak list), False for a scan
    (a profile): steps nearly constant, or (a scan converted to d or q) changing smoothly from
    one step to the next."""
    steps = np.abs(np.diff(np.asarray(positions, float)))
    if len(steps) < 3:
        return True
    if float(np.std(steps) / np.mean(steps)) <= 0.5:
        return False
    if len(steps) < 50 or np.any(steps == 0):
        return True
    return float(np.median(np.abs(np.diff(np.log(steps))))) > 0.05


def to_model_input(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid, sigma: float,
                   kind: str = "auto", name: str = "pattern", background: str = "none",
                   positions: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """The (n_points,) vector a model expects from a scan on the model's 2θ scale, and whether
    it was read as ``profile`` or ``peaks``.

    A profile is put on the grid (:func:`resample_profile`), its minimum subtracted, smoothed
    with the model's σ (grid points) within the scanned range (zero outside); a peak list is
    placed on the grid and smoothed exactly as in training (:func:`lib.xrd.patterns.render`).
    Both then pass through :func:`preprocess` with the model's ``background``.  ``positions``:
    the file's own axis, to decide ``auto`` (default: ``two_theta``)."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"--input must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    if kind == "auto":
        kind = "peaks" if looks_like_peak_list(two_theta if positions is None
                                               else positions) else "profile"
    lo, hi = grid.two_theta_min, grid.two_theta_max
    if two_theta[-1] < lo or two_theta[0] > hi:
        raise PatternError(name, f"2θ range {two_theta[0]:g}–{two_theta[-1]:g}° does not "
                                 f"overlap the model's grid {lo:g}–{hi:g}°")
    if kind == "peaks":
        vec = render(two_theta, np.clip(intensity, 0, None), grid, sigma)
    else:
        vec = resample_profile(two_theta, intensity, grid)
        inside = (grid.two_theta >= two_theta[0]) & (grid.two_theta <= two_theta[-1])
        if inside.any():
            part = vec[inside] - vec[inside].min()
            if sigma > 0:       # within the scanned range: no ramp at its edges
                part = gaussian_filter1d(part, sigma, mode="nearest")
            vec[inside] = part
        vec = smooth_normalise(np.clip(vec, 0, None), 0.0)
    if not np.any(vec > 0):
        raise PatternError(name, "no signal: intensity is constant or zero on the model's grid")
    vec = preprocess(vec, grid, background)
    if not np.any(vec > 0):
        raise PatternError(name, "no signal above the background on the model's grid")
    return vec, kind


def _top(probs: np.ndarray, labels: list[str], k: int, head: str) -> list[dict[str, Any]]:
    order = np.argsort(probs)[::-1][:k]
    out = []
    for i in order:
        item: dict[str, Any] = {"label": labels[i], "p": round(float(probs[i]), 4)}
        if head == "space_group":
            item["symbol"] = space_group_symbol(int(labels[i]))
        out.append(item)
    return out


def space_group_symbol(number: int) -> str:
    """The Hermann–Mauguin symbol of space group ``number`` (pymatgen's, e.g. 14 → "P2_1/c"),
    or "" where pymatgen has none."""
    try:
        from pymatgen.symmetry.groups import SpaceGroup

        return SpaceGroup.from_int_number(number).symbol
    except Exception:
        return ""


def check_usable(scan: Scan, grid: Grid, name: str) -> None:
    """``PatternError`` when a scan cannot be classified whatever its reading: no overlap with
    the model's 2θ grid, or a constant intensity (checked before any suspicion)."""
    tt = scan.two_theta
    lo, hi = grid.two_theta_min, grid.two_theta_max
    if tt[-1] < lo or tt[0] > hi:
        raise PatternError(name, f"2θ range {tt[0]:g}–{tt[-1]:g}° does not overlap the model's "
                                 f"grid {lo:g}–{hi:g}°")
    if np.ptp(scan.intensity) == 0:
        raise PatternError(name, "no signal: intensity is constant or zero on the model's grid")


def classify_files(paths: str | Path | Sequence[str | Path], model: str | Path | Any,
                   top: int = 3, input_kind: str = "auto", axis: str = "2theta",
                   wavelength: str | float | None = None,
                   force: bool = False,
                   each: Callable[[dict[str, Any], dict[str, np.ndarray]], None] | None = None,
                   ) -> list[dict[str, Any]]:
    """Classify every file (or the one file ``paths`` names); one record per file, in order.

    A record is ``{"file", "read_as", "axis", "wavelength_angstrom", "crystal_system": [{"label",
    "p"}, ...], "space_group": [{"label", "symbol", "p"}, ...], "confident"}`` (``space_group``
    only when the model has that head; ``confident``: the top crystal-system probability
    reaches the bundle's ``confidence_threshold`` and nothing about the file is suspicious),
    or ``{"file", "error"}`` for a file that could not be used — with ``"suspicious": true``
    when it was refused because it looks misread (radians, d or q read as 2θ, upside down,
    peaks outside the model's range); ``force`` classifies those too, with ``"warnings"`` and
    ``"confident": false``.  ``axis``/``wavelength``: of the files (see :func:`load_scan`).
    ``model`` is a bundle path or a loaded :class:`lib.xrd.models.Bundle`.  ``each``: called
    with every classified record and the file's calibrated probabilities ({head: (1,
    n_classes)}) once the record is built (``classify --index`` adds the indexing there,
    :func:`lib.xrd.cli.add_indexing`).  Raises ``ValueError`` (naming the file) when the
    model cannot be loaded."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    bundle = model if isinstance(model, Bundle) else load_bundle(model)
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    if axis not in AXES:
        raise ValueError(f"--axis must be one of {', '.join(AXES)}, got {axis!r}")
    if wavelength is not None:
        wavelength_angstrom(wavelength)
    records: list[dict[str, Any]] = [{} for _ in paths]
    vectors, where, info = [], [], []
    for i, path in enumerate(paths):
        try:
            scan = load_scan(path, axis, wavelength, bundle.wavelength)
            check_usable(scan, bundle.grid, str(path))
            outside = peaks_outside(scan.two_theta, scan.intensity, bundle.grid)
            warnings_ = scan.suspicions + ([outside] if outside else [])
            if warnings_ and not force:
                records[i] = {"file": str(path), "error": "suspicious input: "
                              + "; ".join(warnings_) + " (--force classifies it anyway)",
                              "suspicious": True}
                continue
            vec, kind = to_model_input(scan.two_theta, scan.intensity, bundle.grid,
                                       bundle.sigma, input_kind, name=str(path),
                                       background=bundle.background, positions=scan.raw_x)
        except PatternError as exc:
            records[i] = {"file": str(path), "error": exc.reason}
            continue
        vectors.append(vec)
        where.append(i)
        info.append((kind, scan, warnings_))
    if vectors:
        probs = predict_patterns(bundle.model, bundle.kind, np.stack(vectors), bundle.image_size)
        probs["crystal_system"] = answer_probabilities(
            probs["crystal_system"], float(bundle.meta.get("temperature") or 1.0),
            bundle.meta.get("class_prior") or None)
        for j, i in enumerate(where):
            kind, scan, warnings_ = info[j]
            rec: dict[str, Any] = {"file": str(paths[i]), "read_as": kind, "axis": scan.axis,
                                   "wavelength_angstrom": round(scan.wavelength, 5)}
            for head, labels in bundle.heads.items():
                rec[head] = _top(probs[head][j], labels, top, head)
            best = float(np.max(probs["crystal_system"][j]))
            rec["confident"] = bool(best >= bundle.confidence_threshold and not warnings_)
            if warnings_:
                rec["warnings"] = warnings_
            records[i] = rec
        if each is not None:
            for j, i in enumerate(where):
                each(records[i], {head: probs[head][j:j + 1] for head in bundle.heads})
    return records


def answer_probabilities(probabilities: np.ndarray, temperature: float,
                         class_prior: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Crystal-system probabilities as a bundle answers with them: :func:`calibrated` at its
    temperature, then, when it has a ``class_prior`` (the crystal-system frequencies of real
    structures: a label shift), :func:`lib.xrd.calibration.prior_corrected` for it."""
    p = calibrated(probabilities, temperature)
    return p if class_prior is None else prior_corrected(p, np.asarray(class_prior, float))


def calibrated(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled class probabilities p ∝ p^(1/T) (rows sum to 1): the calibration the
    bundle's notebook fitted on its synthetic validation split (``meta.temperature``; T = 1
    leaves them unchanged), which its ``confidence_threshold`` refers to."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-30, None)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=-1, keepdims=True)


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


def _answer_text(answer: dict[str, Any]) -> str:
    """One line for a record's ``"answer"`` entry (:func:`lib.xrd.cli.indexing_first_answer`)."""
    text = f"{answer['crystal_system']} (from {answer['from']})"
    if answer.get("also_possible"):
        text += (f" or {' or '.join(answer['also_possible'])} (the same lattice: the lines "
                 "cannot tell them apart)")
    if answer.get("space_group"):
        text += (f", space group {answer['space_group_symbol']} ({answer['space_group']}, from "
                 f"{answer['space_group_from']})")
    if answer["confident"] is not None:
        text += ", confident" if answer["confident"] else ", NOT CONFIDENT"
    return text


def _indexing_text(entry: dict[str, Any]) -> str:
    """One line for a record's ``"indexing"`` entry (:func:`lib.xrd.cli.indexing_summary`)."""
    if "error" in entry:
        return f"not done: {entry['error']}"
    if not entry["indexed"]:
        return (f"no cell indexes the {entry['n_picked']} lines (a cell the trial search "
                "misses, or too few lines for a triclinic one?)")
    cell = ", ".join(f"{c:.4f}" for c in entry["cell_angstrom"])
    if entry.get("beta_deg") is not None:
        cell += f" Å, β = {entry['beta_deg']:.3f}°"
    elif entry.get("angles_deg") is not None:
        cell += " Å, α, β, γ = " + ", ".join(f"{x:.3f}" for x in entry["angles_deg"]) + "°"
    else:
        cell += " Å"
    absences = f"; reflection conditions of {entry['absences']}" if entry.get("absences") else ""
    if entry.get("space_group"):
        absences += (f"; most symmetric space group they allow: {entry['space_group_symbol']} "
                     f"({entry['space_group']})")
    sure = ""
    if entry.get("confident") is not None:
        sure = (f", {'confident' if entry['confident'] else 'NOT CONFIDENT'}: M "
                f"{'≥' if entry['confident'] else '<'} {entry['m_threshold']:.1f}")
    picked = {"curvature": " at the curvature's maxima (second look)",
              "weak": " down to 1 % of the strongest (a computed scan's weak lines)"
              }.get(entry.get("lines") or "", "")
    return (f"{entry['crystal_system']} ({entry['lattice']} cell {cell}, M = {entry['M']:.1f},"
            f" {entry['n_indexed']} of {entry['n_lines']} lines{picked}{absences}){sure}")


def format_text(records: list[dict[str, Any]]) -> str:
    """Human-readable lines for the records of :func:`classify_files`."""
    lines = []
    for rec in records:
        if "error" in rec:
            lines.append(f"{rec['file']}: ERROR {rec['error']}")
            continue
        sure = "" if rec.get("confident", True) else ", NOT CONFIDENT"
        lines.append(f"{rec['file']} (read as {rec['read_as']}{sure}):")
        for w in rec.get("warnings", []):
            lines.append(f"  warning: {w}")
        cs = ", ".join(f"{c['label']} {c['p']:.3f}" for c in rec["crystal_system"])
        lines.append(f"  crystal system: {cs}")
        if "space_group" in rec:
            sg = ", ".join(f"{c['label']} ({c['symbol']}) {c['p']:.3f}" for c in rec["space_group"])
            lines.append(f"  space group:    {sg}")
        if "indexing" in rec:
            lines.append(f"  indexing:       {_indexing_text(rec['indexing'])}")
        if "answer" in rec:
            lines.append(f"  answer:         {_answer_text(rec['answer'])}")
    return "\n".join(lines)
