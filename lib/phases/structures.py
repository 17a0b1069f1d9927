"""Crystal structures of the study: random P-1 small-molecule-like models and real CIFs.

Generated structures
--------------------
:func:`generate_structure` draws one random structure in space group P-1 (No. 2) with
cctbx's :class:`cctbx.development.random_structure.xray_structure`: a triclinic cell (edges
a, b, c in Å and angles α, β, γ in degrees drawn uniformly in the given ranges and scaled to
the requested volume per atom), a number of non-H atoms per asymmetric unit, elements drawn
from an element mix (``"C:0.70,N:0.12,O:0.15,S:0.02,Cl:0.01"``), sites on general positions
at least ``min_distance`` Å from every other atom and from every symmetry equivalent
(cctbx's ``min_distance`` / ``min_distance_sym_equiv``), and an isotropic displacement
parameter U_iso (Å²) per atom.  The origin is at an inversion centre (the standard setting
``-P 1``), so every structure factor is real: phase 0 or π.

Each structure is a pure function of ``(seed, index, stream)``: its random numbers come from
``numpy.random.SeedSequence(seed, spawn_key=(stream, index))``, so any chunk of a data set can
be rebuilt, in any process, in any order, with identical results.

Real structures
---------------
:func:`read_cif_structures` reads every CIF of a folder (CCDC, Acta Cryst E, COD) with iotbx,
keeps the structures whose space group has the requested *type* (P-1 by default: any
setting or origin of P-1 counts; they are moved to the reference setting, inversion centre
at the origin) and lists every skipped file with its reason.

iotbx reads ASCII only: non-ASCII characters (in comments, names, text fields) are written
in CIF 1.1's ASCII markup first (:func:`cif_ascii_text`: ``Å`` → ``\\%A``, ``é`` →
``\\'e``, ``°`` → ``\\%``, ``α`` → ``\\a``).  A structure with a negative displacement
parameter (B or U) or an occupancy above 1 (beyond rounding: > ``MAX_OCCUPANCY``) is
skipped with the reason.  A file with two data blocks of the same name (CIF names are
case-insensitive) is skipped as a whole: which block is meant cannot be told.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

#: Default element mix of the generated structures (fractions of non-H atoms).
DEFAULT_ELEMENTS: str = "C:0.70,N:0.12,O:0.15,S:0.02,Cl:0.01"
#: Independent random streams of the study (one per data set kind).
STREAM_CALCULATED: int = 0
STREAM_EXPERIMENTAL: int = 1
#: Largest accepted site occupancy: 1 plus rounding of the last printed digit (e.g. 1.0005).
MAX_OCCUPANCY: float = 1.001


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def parse_element_mix(text: str | dict[str, float]) -> dict[str, float]:
    """Parse an element mix ``"C:0.70,N:0.12,O:0.15"`` into {element: fraction}, sum 1.

    Every element must be known to cctbx's X-ray scattering tables; fractions must be
    positive.  They are normalised to sum to 1.  Raises ``ValueError`` naming the bad item.
    """
    from cctbx.eltbx import xray_scattering

    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for part in str(text).replace(" ", "").split(","):
            if not part:
                continue
            if ":" not in part:
                raise ValueError(f"element mix item {part!r} must be ELEMENT:FRACTION "
                                 f"(in {text!r})")
            element, value = part.split(":", 1)
            try:
                items.append((element, float(value)))
            except ValueError:
                raise ValueError(f"element mix item {part!r}: fraction {value!r} is not a "
                                 f"number (in {text!r})") from None
    if not items:
        raise ValueError(f"element mix {text!r} is empty")
    mix: dict[str, float] = {}
    for element, fraction in items:
        element = element.strip().capitalize()
        try:
            xray_scattering.it1992(element)
        except (RuntimeError, ValueError):
            raise ValueError(f"element mix: unknown element {element!r} (in {text!r})") from None
        if not (fraction > 0 and math.isfinite(fraction)):
            raise ValueError(f"element mix: fraction of {element} must be > 0, got {fraction}")
        mix[element] = mix.get(element, 0.0) + float(fraction)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


@dataclass(frozen=True)
class GeneratorParameters:
    """Parameters of the random P-1 structure generator (units in the field names' docs).

    ``atoms_min``/``atoms_max``: non-H atoms per asymmetric unit (inclusive range; the cell
    holds twice as many); ``cell_edge_min``/``cell_edge_max``: a, b, c in Å;
    ``cell_angle_min``/``cell_angle_max``: α, β, γ in degrees; ``volume_per_atom``: cell
    volume per atom in Å³; ``min_distance``: minimum interatomic distance in Å (symmetry
    equivalents included); ``u_iso_min``/``u_iso_max``: isotropic displacement U_iso in Å².
    """

    elements: str = DEFAULT_ELEMENTS
    atoms_min: int = 8
    atoms_max: int = 40
    cell_edge_min: float = 5.0
    cell_edge_max: float = 15.0
    cell_angle_min: float = 70.0
    cell_angle_max: float = 110.0
    volume_per_atom: float = 18.0
    min_distance: float = 1.2
    u_iso_min: float = 0.01
    u_iso_max: float = 0.06
    space_group: str = "P-1"

    def __post_init__(self) -> None:
        parse_element_mix(self.elements)
        checks = [
            (1 <= self.atoms_min <= self.atoms_max, "need 1 <= atoms_min <= atoms_max"),
            (0 < self.cell_edge_min <= self.cell_edge_max,
             "need 0 < cell_edge_min <= cell_edge_max (Å)"),
            (0 < self.cell_angle_min <= self.cell_angle_max < 180,
             "need 0 < cell_angle_min <= cell_angle_max < 180 (degrees)"),
            (self.volume_per_atom > 0, "volume_per_atom must be > 0 (Å³)"),
            (self.min_distance > 0, "min_distance must be > 0 (Å)"),
            (0 < self.u_iso_min <= self.u_iso_max, "need 0 < u_iso_min <= u_iso_max (Å²)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"generator parameters: {message}; got {self}")
        from cctbx import sgtbx

        if sgtbx.space_group_info(self.space_group).group().order_z() != 2 or \
                not sgtbx.space_group_info(self.space_group).group().is_centric():
            raise ValueError(f"the generator makes P-1 structures, got {self.space_group!r}")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Any) -> "GeneratorParameters":
        """Pick the generator's fields from a mapping or an object with attributes (a config)."""
        out = {}
        for name in cls.__dataclass_fields__:
            if isinstance(values, dict):
                if name in values:
                    out[name] = values[name]
            elif hasattr(values, "params") and name in values.params:
                out[name] = values.params[name]
        return cls(**out)


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


def structure_seed(seed: int, index: int, stream: int = STREAM_CALCULATED) -> np.random.SeedSequence:
    """The seed sequence of structure ``index`` of random stream ``stream`` under ``seed``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(stream), int(index)))


def cell_volume(cell: Sequence[float]) -> float:
    """Volume (Å³) of a cell (a, b, c in Å; α, β, γ in degrees); NaN if not a valid cell."""
    a, b, c = cell[:3]
    ca, cb, cg = (math.cos(math.radians(x)) for x in cell[3:])
    g = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    return a * b * c * math.sqrt(g) if g > 0 else float("nan")


def random_cell(rng: np.random.Generator, volume: float, params: GeneratorParameters,
                max_trials: int = 10_000) -> tuple[float, ...]:
    """A random triclinic cell of ``volume`` Å³ with edges and angles in the parameter ranges.

    Angles α, β, γ ~ U(angle range) (degrees, rejected unless they make a cell whose reduced
    volume factor is ≥ 0.3); edge ratios ~ U(edge range), scaled to ``volume``; rejected
    until every edge lies in the edge range.
    """
    lo, hi = params.cell_edge_min, params.cell_edge_max
    for _ in range(max_trials):
        angles = rng.uniform(params.cell_angle_min, params.cell_angle_max, size=3)
        unit = cell_volume((1.0, 1.0, 1.0, *angles))
        if not unit >= 0.3:
            continue
        edges = rng.uniform(lo, hi, size=3)
        edges *= (volume / (unit * float(np.prod(edges)))) ** (1.0 / 3.0)
        if np.all(edges >= lo) and np.all(edges <= hi):
            return tuple(float(v) for v in edges) + tuple(float(v) for v in angles)
    raise ValueError(f"no cell of volume {volume:.0f} Å³ with edges in [{lo}, {hi}] Å and "
                     f"angles in [{params.cell_angle_min}, {params.cell_angle_max}]° after "
                     f"{max_trials} trials: widen the ranges or change volume_per_atom")


def generate_structure(params: GeneratorParameters, seed: int, index: int,
                       stream: int = STREAM_CALCULATED, max_attempts: int = 20):
    """Random P-1 structure number ``index`` of ``stream`` under ``seed`` (a cctbx xray.structure).

    Deterministic: the same (params, seed, index, stream) gives the same structure in any
    process.  Python's global ``random`` state (used by cctbx's generator) is saved and
    restored around the call.
    """
    from cctbx import sgtbx
    from cctbx.array_family import flex
    from cctbx.development import random_structure

    mix = parse_element_mix(params.elements)
    symbols = list(mix)
    probabilities = np.array([mix[s] for s in symbols])
    sgi = sgtbx.space_group_info(params.space_group)
    ss = structure_seed(seed, index, stream)
    rng = np.random.default_rng(ss)
    py_seed = int(ss.generate_state(1, dtype=np.uint32)[0])
    saved = random.getstate()
    try:
        last_error: Exception | None = None
        for attempt in range(max_attempts):
            n_atoms = int(rng.integers(params.atoms_min, params.atoms_max + 1))
            volume = n_atoms * sgi.group().order_z() * params.volume_per_atom
            cell = random_cell(rng, volume, params)
            elements = list(rng.choice(symbols, size=n_atoms, p=probabilities))
            u_iso = rng.uniform(params.u_iso_min, params.u_iso_max, size=n_atoms)
            random.seed(py_seed + attempt)
            flex.set_random_seed(py_seed + attempt)
            try:
                xs = random_structure.xray_structure(
                    space_group_info=sgi, unit_cell=cell, elements=elements,
                    min_distance=params.min_distance, general_positions_only=True,
                    use_u_iso=True, u_iso=float(params.u_iso_min))
            except RuntimeError as error:  # "Cannot find sites matching all constraints."
                last_error = error
                continue
            xs.set_u_iso(values=flex.double(u_iso))
            return xs
        raise RuntimeError(f"structure {index} (seed {seed}, stream {stream}): cctbx found no "
                           f"sites {params.min_distance} Å apart after {max_attempts} "
                           f"attempts ({last_error}); increase volume_per_atom")
    finally:
        random.setstate(saved)




def generated_source_id(seed: int, index: int, stream: int = STREAM_CALCULATED) -> str:
    """Source id of a generated structure: ``gen:<seed>:<stream>:<index>``."""
    return f"gen:{int(seed)}:{int(stream)}:{int(index)}"




def min_interatomic_distance(xs, cutoff: float = 4.0) -> float:
    """Shortest distance (Å) between any two atoms of the crystal, symmetry equivalents
    included (cctbx pair tables), or ``inf`` when none is shorter than ``cutoff``."""
    pair_table = xs.pair_asu_table(distance_cutoff=cutoff)
    sym_table = pair_table.extract_pair_sym_table()
    best = float("inf")
    sites = xs.sites_frac()
    uc = xs.unit_cell()
    for i, row in enumerate(sym_table):
        for j, ops in row.items():
            for op in ops:
                d = uc.distance(sites[i], op * sites[j])
                if d < best:
                    best = d
    return best


# ---------------------------------------------------------------------------------------------
# Reader of real CIFs
# ---------------------------------------------------------------------------------------------


@dataclass
class CifStructure:
    """A structure read from a CIF: ``source_id`` (``file.cif`` or ``file.cif#block``),
    the file's ``path``, the data ``block`` name, the cctbx ``structure`` (reference setting
    of its space group), and the ``space_group`` symbol as read from the file."""

    source_id: str
    path: Path
    block: str
    structure: Any
    space_group: str


@dataclass
class SkippedFile:
    """A file (or one data block of it) left out of a batch, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class CifReadResult:
    """Structures kept and files skipped by :func:`read_cif_structures` (also unpacks as a
    ``(structures, skipped)`` pair)."""

    structures: list[CifStructure] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def __iter__(self):
        return iter((self.structures, self.skipped))


def cif_loop_problem(text: str) -> str | None:
    """A ``loop_`` that iotbx's parser cannot survive, or ``None``.

    iotbx (2025.11) crashes the process (segmentation fault) on a ``loop_`` without data
    names or with data names but no values — typical of a truncated file — so such text
    must never reach it.  Returns a description naming the line.
    """
    tokens: list[tuple[int, str]] = []
    in_text_field = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(";"):
            if not in_text_field:
                tokens.append((number, ";"))   # a text field is one value
            in_text_field = not in_text_field
            continue
        if in_text_field:
            continue
        for word in line.split():
            if word.startswith("#"):
                break
            tokens.append((number, word))
    for i, (number, word) in enumerate(tokens):
        if word.lower() != "loop_":
            continue
        j = i + 1
        while j < len(tokens) and tokens[j][1].startswith("_"):
            j += 1
        if i + 1 == len(tokens):
            return f"line {number}: loop_ at the end of the file (truncated?)"
        if j == i + 1:
            return f"line {number}: loop_ without data names"
        if j == len(tokens):
            return f"line {number}: loop_ with data names but no values at the end of the " \
                   f"file (truncated?)"
        follower = tokens[j][1].lower()
        if follower == "loop_" or follower.startswith(("data_", "save_", "global_")):
            return f"line {number}: loop_ with data names but no values"
    return None


#: CIF 1.1 markup of the combining accents left by Unicode NFKD decomposition (placed
#: before the letter: é = e + U+0301 → ``\'e``).
_CIF_ACCENTS: dict[str, str] = {"\u0301": "\\'", "\u0300": "\\`", "\u0308": '\\"',
                                "\u0302": "\\^", "\u0303": "\\~", "\u030a": "\\%",
                                "\u0327": "\\,", "\u0304": "\\=", "\u0306": "\\(",
                                "\u030c": "\\<", "\u030b": "\\>", "\u0328": "\\;",
                                "\u0307": "\\."}
#: CIF 1.1 markup (or a plain ASCII spelling) of other characters.
_CIF_SYMBOLS: dict[str, str] = {
    "°": "\\%", "±": "+-", "×": "\\\\times", "÷": "/", "·": "\\\\cdot", "–": "--",
    "—": "---", "‘": "`", "’": "`", "“": "``", "”": "``", "…": "...", "≤": "<=", "≥": ">=",
    "→": "\\\\rightarrow", "ß": "\\&s", "ø": "\\/o", "Ø": "\\/O", "æ": "ae", "Æ": "AE",
    "ł": "\\/l", "Ł": "\\/L", "đ": "\\/d", "Đ": "\\/D", "ı": "\\?i", "\u00a0": " ",
    "\ufeff": "", "\u2009": " ", "\u2212": "-", "Å": "\\%A", "å": "\\%a", "µ": "\\m",
    "Ω": "\\W", "Θ": "\\Q", "Φ": "\\F", "Ψ": "\\Y", "Δ": "\\D", "Σ": "\\S",
}
_GREEK: str = "abgdezhqiklmnxoprstufcyw"   # α β γ δ ε ζ η θ ι κ λ μ ν ξ ο π ρ σ τ υ φ χ ψ ω


def _cif_ascii_char(char: str) -> str:
    """CIF 1.1 ASCII markup of one non-ASCII character ('?' when it has none)."""
    if char in _CIF_SYMBOLS:
        return _CIF_SYMBOLS[char]
    code = ord(char)
    if 0x3b1 <= code <= 0x3c9 and code != 0x3c2:          # α..ω (not final sigma)
        return "\\" + _GREEK[code - 0x3b1 - (code > 0x3c2)]
    if 0x391 <= code <= 0x3a9 and code != 0x3a2:          # Α..Ω
        return "\\" + _GREEK[code - 0x391 - (code > 0x3a2)].upper()
    if code == 0x3c2:
        return "\\s"
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if part.isascii():
            out.append(part)
        elif part in _CIF_ACCENTS and out:
            out.insert(len(out) - 1, _CIF_ACCENTS[part])
        elif part in _CIF_SYMBOLS or 0x391 <= ord(part) <= 0x3c9:
            out.append(_cif_ascii_char(part))
    text = "".join(out)
    return text if text and text.isascii() else "?"


def cif_ascii_text(text: str) -> str:
    """``text`` with every non-ASCII character written in CIF 1.1 ASCII markup.

    iotbx's parser refuses any non-ASCII byte (a UTF-8 ``é`` in a comment makes the file
    "not a CIF"); CIF 1.1 is ASCII and spells such characters with backslash codes
    (``Å`` → ``\\%A``, ``é`` → ``\\'e``, ``ü`` → ``\\"u``, ``°`` → ``\\%``, ``α`` → ``\\a``,
    ``µ`` → ``\\m``), so values keep their meaning.  Characters without a code become ``?``;
    curly quotes become back-ticks (a straight quote could end a quoted value).
    ASCII text is returned unchanged.
    """
    if text.isascii():
        return text
    return "".join(c if c.isascii() else _cif_ascii_char(c) for c in text)


_DATA_BLOCK = re.compile(r"^\s*data_(\S*)", re.IGNORECASE)


def duplicate_block_names(text: str) -> list[str]:
    """Names of data blocks that occur more than once in a CIF text (case-insensitive, as
    CIF names are), outside text fields; iotbx would silently merge them into one block."""
    seen: dict[str, int] = {}
    in_text_field = False
    for line in text.splitlines():
        if line.startswith(";"):
            in_text_field = not in_text_field
            continue
        if in_text_field:
            continue
        match = _DATA_BLOCK.match(line)
        if match:
            name = match.group(1).lower()
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)


def implausible_sites(xs: Any, max_occupancy: float = MAX_OCCUPANCY) -> str | None:
    """Why the atoms of a cctbx structure cannot be physical, or ``None``.

    A negative isotropic displacement parameter U_iso (B = 8π² U; Å²) or equivalent U_eq of
    an anisotropic atom, a non-positive-definite anisotropic U, or a site occupancy outside
    [0, ``max_occupancy``] (1 plus rounding).  Names the first such atom.
    """
    from cctbx import adptbx

    scatterers = xs.scatterers()
    u_eq = np.asarray(xs.extract_u_iso_or_u_equiv())
    for i, sc in enumerate(scatterers):
        if np.isfinite(u_eq[i]) and u_eq[i] < 0:
            return (f"negative displacement parameter: U = {u_eq[i]:.4g} Å² "
                    f"(B = {8 * math.pi ** 2 * u_eq[i]:.3g} Å²) of atom {sc.label}")
        if sc.flags.use_u_aniso() and not adptbx.is_positive_definite(
                adptbx.u_star_as_u_cart(xs.unit_cell(), sc.u_star)):
            return f"anisotropic displacement parameters of atom {sc.label} are not " \
                   "positive definite"
        if not 0.0 <= sc.occupancy <= max_occupancy:
            return (f"site occupancy {sc.occupancy:g} of atom {sc.label} outside [0, 1] "
                    f"(tolerance {max_occupancy:g} for rounding)")
    return None


def _space_group_type_number(symbol: str) -> int:
    from cctbx import sgtbx

    try:
        return sgtbx.space_group_info(symbol).type().number()
    except RuntimeError as error:
        raise ValueError(f"unknown space group {symbol!r}: {error}") from None


def read_cif_file(path: str | Path, space_group: str = "P-1", table: str = "it1992",
                  to_reference_setting: bool = True, max_u_equiv: float = 1.0) -> CifReadResult:
    """Read the structures of one CIF, keeping those of space-group type ``space_group``.

    Each data block that cannot be used is listed in ``skipped`` with its reason: not a CIF
    (or truncated / malformed), two data blocks of the same name (the whole file), no
    atoms, atoms of unknown type ('?' or not in the ``table`` of scattering factors),
    another space group, a negative displacement parameter or an occupancy above 1
    (:func:`implausible_sites`), or an implausible displacement parameter (U_iso/U_eq above
    ``max_u_equiv`` Å², typically B given as U or a unit error).  Non-ASCII characters are
    read (:func:`cif_ascii_text`).  Never raises for bad content.
    """
    import iotbx.cif
    from cctbx import sgtbx

    path = Path(path)
    wanted = _space_group_type_number(space_group)
    result = CifReadResult()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        result.skipped.append(SkippedFile(str(path), f"cannot read the file: {error}"))
        return result
    if not text.strip():
        result.skipped.append(SkippedFile(str(path), "empty file"))
        return result
    problem = cif_loop_problem(text)
    if problem:   # iotbx's parser would crash the process on it
        result.skipped.append(SkippedFile(str(path), f"truncated or malformed CIF: {problem}"))
        return result
    duplicates = duplicate_block_names(text)
    if duplicates:
        result.skipped.append(SkippedFile(
            str(path), f"duplicate data block name(s) {', '.join('data_' + d for d in duplicates)}"
                       f": which block is meant cannot be told (rename one)"))
        return result
    try:
        model = iotbx.cif.reader(input_string=cif_ascii_text(text),
                                 raise_if_errors=True).model()
    except Exception as error:  # iotbx.cif.CifParserError and friends
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        result.skipped.append(SkippedFile(str(path),
                                          f"not a CIF, or truncated/malformed CIF: {first}"))
        return result
    if len(model.keys()) == 0:
        result.skipped.append(SkippedFile(str(path), "not a CIF: no data block"))
        return result
    multi = len(model.keys()) > 1
    for block_name in model.keys():
        block = model[block_name]
        label = f"{path}#{block_name}" if multi else str(path)
        source_id = f"{path.name}#{block_name}" if multi else path.name
        if "_atom_site_fract_x" not in block and "_atom_site.fract_x" not in block:
            if "_atom_site_cartn_x" in block or "_atom_site.cartn_x" in block:
                reason = "no fractional atomic coordinates (_atom_site_fract_x)"
            else:
                reason = "no atoms (no _atom_site loop with fractional coordinates)"
            if multi and ("_refln_index_h" in block or "_diffrn_refln_index_h" in block):
                reason = "reflection block, no atoms"
            result.skipped.append(SkippedFile(label, reason))
            continue
        types = block.get("_atom_site_type_symbol")
        if types is not None and not isinstance(types, str):
            unknown = sorted({str(t) for t in types if str(t).strip() in ("?", ".")})
            if unknown:
                result.skipped.append(SkippedFile(
                    label, f"atoms of unknown type {', '.join(repr(u) for u in unknown)} "
                           f"in _atom_site_type_symbol"))
                continue
        try:
            structures = iotbx.cif.builders.crystal_structure_builder(block).structure
        except Exception as error:
            msg = " ".join(str(error).split()) or type(error).__name__
            result.skipped.append(SkippedFile(label, f"cannot build a structure: {msg}"))
            continue
        xs = structures
        if xs.scatterers().size() == 0:
            result.skipped.append(SkippedFile(label, "no atoms"))
            continue
        sgi = xs.space_group_info()
        if sgi.type().number() != wanted:
            want = sgtbx.space_group_info(space_group)
            result.skipped.append(SkippedFile(
                label, f"space group {sgi} (No. {sgi.type().number()}), not the requested "
                       f"{want} (No. {wanted})"))
            continue
        bad_types = []
        for t in sorted(set(xs.scatterers().extract_scattering_types())):
            if t.strip() in ("?", ".", ""):
                bad_types.append(t)
        if not bad_types:
            try:
                xs.scattering_type_registry(table=table)
            except Exception as error:
                bad_types.append(" ".join(str(error).split()))
        if bad_types:
            result.skipped.append(SkippedFile(
                label, f"atoms of unknown type: {', '.join(repr(b) for b in bad_types)}"))
            continue
        u_eq = np.asarray(xs.extract_u_iso_or_u_equiv())
        if u_eq.size and (not np.all(np.isfinite(u_eq)) or u_eq.max() > max_u_equiv):
            worst = int(np.nanargmax(np.where(np.isfinite(u_eq), u_eq, np.inf)))
            label_atom = xs.scatterers()[worst].label
            result.skipped.append(SkippedFile(
                label, f"implausible displacement parameter: U_eq = {u_eq[worst]:.3g} Å² of "
                       f"atom {label_atom} (> {max_u_equiv} Å²)"))
            continue
        implausible = implausible_sites(xs)
        if implausible:
            result.skipped.append(SkippedFile(label, implausible))
            continue
        if to_reference_setting:
            cb = sgi.change_of_basis_op_to_reference_setting()
            if not cb.is_identity_op():
                xs = xs.change_basis(cb)
        result.structures.append(CifStructure(source_id=source_id, path=path, block=block_name,
                                              structure=xs, space_group=str(sgi)))
    return result


def cif_files(folder: str | Path, pattern: str = "*.cif") -> list[Path]:
    """The CIF files of ``folder`` (sorted), or a clear error when there are none."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"CIF folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"CIF folder {str(folder)!r} is not a folder")
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not files:
        raise ValueError(f"CIF folder {str(folder)!r} is empty: no files matching {pattern!r}")
    return files


def read_cif_structures(folder: str | Path | Sequence[str | Path], space_group: str = "P-1",
                        pattern: str = "*.cif", table: str = "it1992",
                        to_reference_setting: bool = True,
                        max_u_equiv: float = 1.0) -> CifReadResult:
    """Read every CIF of ``folder`` (or a list of files) with iotbx; keep space-group type
    ``space_group`` (any setting/origin; moved to the reference setting so the inversion
    centre of P-1 is at the origin).

    Returns a :class:`CifReadResult` — unpack as ``structures, skipped``; ``skipped`` lists
    each file or block left out with its reason.  A missing or empty folder raises a clear
    error; a bad file never stops the batch.
    """
    if isinstance(folder, (str, Path)):
        files = cif_files(folder, pattern)
    else:
        files = [Path(f) for f in folder]
        if not files:
            raise ValueError("no CIF files given")
    _space_group_type_number(space_group)
    out = CifReadResult()
    for path in files:
        one = read_cif_file(path, space_group=space_group, table=table,
                            to_reference_setting=to_reference_setting,
                            max_u_equiv=max_u_equiv)
        out.structures.extend(one.structures)
        out.skipped.extend(one.skipped)
    return out
