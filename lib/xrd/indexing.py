"""Classical powder indexing: the crystal system a crystallographer would read off a pattern.

The bar for a learned crystal-system classifier is what indexing gives without any training.
From the first lines of a pattern (their positions as Q = 1/d², Å⁻²) we search, from the
highest symmetry down, for the cell that indexes them:

- cubic        Q = A (h² + k² + l²)                       A = 1/a²
- hexagonal    Q = A (h² + hk + k²) + C l²                 A = 4/(3a²), C = 1/c²
- tetragonal   Q = A (h² + k²) + C l²                      A = 1/a², C = 1/c²
- orthorhombic Q = A h² + B k² + C l²                      A = 1/a², B = 1/b², C = 1/c²
- monoclinic   Q = A h² + B k² + C l² + D h l              A = a*², B = b*², C = c*²,
                                                           D = 2 a* c* cos β*  (b unique)

Trial cells come from assigning small indices to pairs (triples) of the first lines (the method
of the early programs: Ito, TREOR's trial-and-error); each trial is refined by least squares on
the lines it indexes and judged by de Wolff's figure of merit M_N = Q_N / (2 ⟨|ΔQ|⟩ N_calc) (de
Wolff 1968, J. Appl. Cryst. 1, 108), with N_calc the number of distinct lines the cell (with its
lattice centring: P, I, F, C, R) allows up to the N-th observed line; the best orthorhombic
cells are counted again with each orthorhombic extinction symbol's reflection conditions, and
the one with the highest M_N that indexes as many lines as the cell did without them is kept and
reported (``absences``: the space groups it allows).  The answer is the highest system whose
best cell reaches the textbook threshold M_N ≥ 10 with at most ``max_unindexed`` lines left
unindexed.  Only when no cell of orthorhombic or higher symmetry does, or when the best is
orthorhombic, is a monoclinic cell searched (b unique; trial indices ≤ 1 and the axes' second
orders on four of the first six lines, TREOR's way), held to the same M_N ≥ 10 and given in
cctbx's best cell; against an orthorhombic cell it must have ``SYMMETRY_MARGIN`` (2) times that
cell's M_N (a monoclinic structure with β within a degree or two of 90° otherwise passes for
orthorhombic).  Only when no monoclinic cell does either, and the scan has at least twenty lines
(``TRICLINIC_LINES``: de Wolff's M_20 is defined on twenty, and six parameters fit fewer lines
too easily), is a triclinic cell searched, Ito's way: a*², b*², c*² three of the first six
lines, each cross term one of the four that place the most lines of its zone
(:func:`_zone_cross_terms`, from lines among the first twelve taken as 110, 210 or 120, so that
a line blended with a neighbour does not decide it), held to M_N ≥ 20 (twice the threshold: the
margin ``SYMMETRY_MARGIN`` a step down in symmetry asks) and given as cctbx's Niggli cell, space
group P-1.  Measured (2026-12-07): on notebook 06's 560 synthetic training and validation
patterns it answers triclinic 41 times, 38 of them right (of 75 triclinic structures; M_N 22–251
for the right cells); indexing alone on the synthetic test goes 59.3 % → 62.1 % (5 of 18
triclinic structures; a line blended with a neighbour still hides many) and on the 200 MP-20
patterns 69.0 % → 69.5 %.  On ``rruff_dev`` it finds none of the 20 triclinic minerals and gives
one monoclinic mineral a triclinic cell (M_N 23.7): crystal system 201 → 200.  Measured lines
carry errors that six parameters absorb, and the right cells' M_N there is that of wrong ones:
with M_N ≥ 10 it found one triclinic mineral (M_N 17.7) and gave three monoclinic ones triclinic
cells (M_N 12.0–23.7; 199), and trial cross terms from 110-type lines alone (no zones), five
axes and ten lines, no line minimum, gave 200 there and the same 62.1 % on the synthetic test.
The zone search's sizes (six axes, twelve lines, four terms per zone) were chosen on 40
synthetic training patterns (24 found either way with 8 axes and 15 lines); the floor of 20
after looking at the M_N of the right and wrong cells on ``rruff_dev`` and the training
patterns, so the ``rruff_dev`` figure is slightly optimistic.  A pattern that none indexes is
answered "monoclinic" all the same, with ``indexed`` false — after a second look
(:func:`index_scan`): the lines at the maxima of the scan's curvature −d²y/d(2θ)²
(:func:`pick_lines` with ``curvature``), which resolve lines closer than their maxima, indexed
the same way; their cell is kept only if one is found.  A computed scan, indexed on its lines
down to 1 %, takes the curvature's maxima down to 1 % too (at 5 % they were fewer than its
first look's lines, so it never had a second look): on notebook 06's synthetic test (default,
140 patterns) indexing alone 106 → 110 right (five triclinic structures given their P-1
cell, one given a monoclinic one and a monoclinic one an orthorhombic one; 125 → 132 cells).
That change was found looking at those test rows; on 280 training patterns (seed + 6, not
looked at before) it is even: two more triclinic structures right, two monoclinic ones that
no cell indexed (answered "monoclinic" all the same) given a triclinic and an orthorhombic
cell, one given its monoclinic cell (cells 264 → 269).

Those two steps were measured on 2026-12-07 against the search without them, judged on
notebook 06's 560 synthetic training and validation patterns and on ``rruff_dev``.  The second
look: training patterns 373 → 377 right (triclinic 38 → 42 of 75), ``rruff_dev`` 200 → 201
(a tetragonal mineral, M_N 122; space group 85 → 87, two more P2₁/c cells), at about 1.7×
the indexing time there (a scan no cell indexes is searched twice).  The monoclinic cell
against an orthorhombic answer, on top of it: training 377 → 380 (monoclinic 58 → 62 of 81,
orthorhombic unchanged at 68 of 84), ``rruff_dev`` 201 → 201 (monoclinic minerals 78 → 81,
orthorhombic 38 → 35; space group 87 → 88), on the computed lines of 300 MP-20 structures
(``benchmarks/bench_xrd_indexing.py``) 74.7 % → 78.0 % (monoclinic 25 → 36 of 43,
orthorhombic 57 → 53 of 69).  Both together, on the synthetic test: 62.1 % →
67.1 % (triclinic 5 → 8 of 18, monoclinic 13 → 17 of 20); on the 200 MP-20 patterns 69.5 % →
70.0 % (the second look alone: 68.5 %, two monoclinic structures given triclinic cells).
Taking the curvature's lines for every scan instead was measured before and not adopted
(:func:`pick_lines`).  On a hexagonal answer: the training patterns' extinction symbols do
not separate trigonal P structures from hexagonal ones (no symbol found for more trigonal
than hexagonal structures: P6/mmm's 17 against 31, P6₂22's 9 against 11, P6₁22's 7 against
8), so the answer stays hexagonal, with trigonal named as also possible.

The space group comes after the crystal system, as in a crystallographer's work: the cell
found for a cubic, hexagonal, trigonal or tetragonal pattern is counted again with each
extinction symbol of its system (the orthorhombic ones already were), the one with the
highest M_N that indexes as many lines is kept, and the answer is the most symmetric group
those reflection conditions allow (centrosymmetric first, then the highest order: Pnma for
"P n 21 a, P n m a", Ia-3d for a garnet's lines, P2₁/c for "P 1 21/c 1").  Extinction
symbols are cctbx's: every setting of the system's space groups grouped by the reflections
``is_sys_absent`` leaves (monoclinic: the b-unique settings only).
A pattern left unindexed gets no space group.

Choosing conditions by M_N alone favours more absences: every reflection a symbol leaves out
raises M_N unless a picked line sits on it, and the picked lines are only the strong ones
(≥ 5 %).  A crystallographer looks at the weak lines too, so a measured scan's lines down to
1 % of the strongest (Kβ lines of stronger ones dropped) test the chosen conditions
(:func:`weak_line_group`): when one of them, within the indexed range, sits on a reflection of
the cell's primitive lattice but on none the chosen centring and extinction symbol allow, the
cell is counted again with every centring and symbol of its system and the highest M_N among
those no weak line contradicts, indexing as many lines, is kept.  The crystal system is
decided before it.  Measured on ``rruff_dev`` (2026-12-06): space group right for 83 of 301
patterns instead of 70, crystal system unchanged (198 right): 19 gained (seven Pnma scans no
longer Cmcm or Cmce, five P6₃/m apatites no longer P6₃/mcm or P6₃/mmc, three P4₂/mnm no
longer I4/mmm or I4₁22, two I4₁/a no longer I4₁/amd, two P2₁/c), six lost (four garnets lose
Ia-3d to one weak line at a primitive position — an impurity or a real violation, indexing
cannot tell — and a C2/c and a Pnma scan).  The rule was set once (any one weak line, 1 %);
requiring two contradicting lines was measured there and not adopted (74 of 301), and so was
dropping Kβ lines from the strong lines as well (four crystal systems changed, two right
answers lost and two gained).  Indexing the weak lines instead when a scan has fewer than
eight strong ones (halite has five at ≥ 5 %) was measured there too and not adopted: cells for
ten more patterns, four of them right (two Fm-3m, a tetragonal and an orthorhombic mineral)
and five monoclinic minerals given a higher system (crystal system 198 → 197).  What is
kept for such scans: with 4–7 strong lines (``FEW_LINES``, ``MIN_LINES``) only a cubic cell
is tried, which must index every line and predict at most two lines more than the scan shows
down to 1 % up to its last line (``FEW_MISSING``, :func:`predicts_few_lines`: a small cell
has few lines, a large one fitting a few low-angle lines predicts many nobody sees).  Both
numbers were set once.  On ``rruff_dev`` it finds three Fm-3m minerals (crystal system 198 →
201, space group 83 → 85); without the predicted-lines test it also gave three large cubic
cells (14–40 Å) to two monoclinic and a triclinic mineral.  On notebook 06's simulated
patterns (2026-12-07) the indexing alone goes 57.1 % → 59.3 % (140 synthetic test patterns)
and 64.5 % → 69.0 % (200 MP-20 patterns: small cubic cells such as fcc and bcc metals).
Since 2026-12-07 the predicted lines are those the cell's extinction symbol allows
(:func:`best_extinction`), not its centring's alone: a d glide forbids lines an F cell has,
and silicon (Fd-3m, six lines to 90°, three of the F cell's missing) was refused.  On the
same default rows: synthetic test 95 → 97 of 140 (an Fd-3m and an F-43m structure), MP-20
146 → 147 of 200, ``rruff_dev`` unchanged (no record of the 301 changes).

A computed, noise-free scan (:func:`noise_free`: its successive differences rarely change
sign) is indexed on its lines down to 1 % of the strongest (``"lines": "weak"``), not on
those ≥ 5 %: there the weak lines are the phase's own, with no impurity, tube line or noise
among them, and more lines pin the cell down.  Measured on the same rows (2026-12-07),
first as a third look for computed scans with fewer than eight strong lines that nothing
else indexed: synthetic test 97 → 101 of 140 indexed right, MP-20 147 → 148; then for every
computed scan, after the rule below: synthetic test 103 → 106, MP-20 149 → 152 (space group
65 → 76: the cell found on more lines, its absences read on them).  ``rruff_dev`` is
untouched, as none of its scans is noise-free; ungated, the third look alone gave three more
minerals right and five monoclinic ones a higher system (201 → 199).

In a computed scan a line a cell leaves unindexed is evidence against it, since no impurity
can explain it: there a cell of lower symmetry replaces a higher one only if it also indexes
as many lines (``index_lines(computed=True)``; a pseudo-cubic orthorhombic cell with a 1.6 Å
axis no longer beats the cubic cell of an Im-3m structure by indexing one line fewer at
twice its M).  On the same rows: synthetic test 101 → 103 (three gained, a monoclinic
structure lost to an orthorhombic cell), MP-20 148 → 149; for every scan it cost
``rruff_dev`` one (201 → 200: a monoclinic mineral given a hexagonal cell, a hexagonal one a
cubic cell, a tetragonal one gained), where an unindexed line may be an impurity's.

On a scan of fewer than eleven lines (``CUBIC_FIRST``) a cubic cell that indexes every line
with M_N ≥ 10 is taken before any lower system is tried.  On so few lines a lower cell's free
parameters absorb the lines' errors (peak maxima pulled by their neighbours, computed or
measured), and a cell placing the same lines (orthorhombic a, a/√2, a/2 for a primitive cubic
a) reached 2–4 × the cubic M_N, beyond the margin below.  Found on 280 of notebook 06's
synthetic training patterns (default, seed + 6), where it gives three cubic structures (Pm-3m
with eight lines, Im-3m and Fm-3m with ten) back their system: 216 → 219 right, space group
96 → 98; with twelve lines as the bound one eleven-line tetragonal structure became cubic
there and one among the 70 validation patterns (eleven chosen).  On the other rows
(2026-12-08): validation 55 → 55 of 70, synthetic test 111 → 111 of 140 (a trigonal
structure answered hexagonal now answered cubic), MP-20 159 → 160 of 200, ``rruff_dev`` 201
→ 203 (two eight-line cubic minerals no longer trigonal and orthorhombic; space group 89 →
91).

A cell found this way may describe a lattice of higher metric symmetry (a tetragonal cell with
c = a, an orthorhombic I cell that is cubic F; cctbx's ``lattice_symmetry``, Le Page's method,
within 1°).  The answer is that higher system when its cell, refined on the lines, indexes as
many of them (:func:`higher_metric_cell`, which also names its space group), or when the
found lattice is within ``METRIC_FREE_DEG`` (0.15°) of it (Le Page's δ,
:func:`metric_deviation`); otherwise the found cell's own system stands — the lines need its
freedom.  A triclinic cell takes its lattice's metric system within 1° as before (its
six-parameter fit is the loosest: holding it to the test too was measured, and three
monoclinic and a tetragonal MP-20 structure came out triclinic, one synthetic test structure
gained and one lost).  Until 2026-12-07 only a monoclinic cell was held to the indexing test
and every other took Le Page's 1°; requiring the test of every system had been measured and not
adopted (on computed lines of 300 MP-20 structures, ``benchmarks/bench_xrd_indexing.py``,
71.7 % → 77.3 %, but two ``rruff_dev`` patterns lost: measured lines carry errors a zero shift
does not model — an Fm-3m pattern, a ≈ 5.47 Å, refines as an orthorhombic I cell whose cubic
F cell indexes 5 of its 9 lines, δ = 0.07°).  The free band of 0.15° keeps those: it was
chosen on ``rruff_dev``, where every value from 0.13° (a cubic mineral with δ = 0.126°) to
0.2° (an orthorhombic one at 0.21°) gives the same 201 right answers (space group 88 → 89;
one orthorhombic mineral no longer tetragonal, one tetragonal one with δ = 0.31° now
orthorhombic).  On notebook 06's simulated patterns (its default rows, indexed with and
without the change): synthetic test 94 → 95 of 140 (an R-3c structure whose
rhombohedral cell is 0.93° from cubic), MP-20 140 → 146 of 200 (six pseudo-symmetric
structures — orthorhombic, tetragonal, trigonal — no longer answered a system higher than
theirs; δ from 0.20° to 0.93°); on the computed lines of 300 MP-20 structures
(``benchmarks/bench_xrd_indexing.py``) crystal system 78.0 % → 82.7 %, space group 48.0 % →
51.3 %.

A lower system must beat a higher one's M_N by a margin of 2 (:func:`symmetry_margin`), except
the rhombohedral lattice against the hexagonal: the same metric and the same two parameters, R
a centring of it, chosen by M_N as P, I and F are within a system. With the margin, R-3c
minerals (corundum, hematite, calcite) came out hexagonal or orthorhombic: R leaves out two
thirds of the hkl but only about half of the first twenty lines. On the 300 MP-20 structures
this raises trigonal from 1 to 5 of 30 (lattice system from 10 to 14) and leaves ``rruff_dev``,
which has no trigonal minerals, at 198 right and 70 space groups (five answers change: one
right answer lost to an R cell, one gained through its cubic metric). The R search still misses
the true cell of long-c minerals whose first eight lines need l > 4 (calcite's 006 and 018: it
finds the 2a cell); letting the quick filter try l ≤ 8 for them finds it (trigonal 9 of 30 on
MP-20) but costs ``rruff_dev`` two patterns (low-M R cells for a hexagonal and an orthorhombic
mineral among six changed answers) and 45 % more time: not adopted for measured scans.  For a
computed scan (``COMPUTED_QUICK_MAX_INDEX``: no impurity line for a loose R cell to absorb)
it is: on notebook 06's default simulated rows, indexing alone 110 → 111 of 140 synthetic
test patterns (an R-3m structure no longer cubic I, a monoclinic one now hexagonal instead
of trigonal) and 154 → 159 of 200 MP-20 ones (six trigonal structures right, one hexagonal
answered trigonal); on 280 synthetic training patterns even (two trigonal structures right,
one R-3m given a hexagonal cell, one hexagonal answered trigonal); ``rruff_dev`` is measured
and unchanged.

No learned quantity enters.  M_N ≥ 10 is de Wolff's threshold; the 2θ tolerance (0.02° after
refinement, 0.05° for a trial) and the margin of 2 between systems were set once, not tuned on
data.  The zero shift is refined up to 0.1° (a larger one is held at the bound while the cell
is refined alone): chosen on ``rruff_dev`` among 0.05°, 0.1° and 0.15° (61.5 %, 65.1 %,
65.1 % there), since measured scans are often off by about 0.1°; the extinction symbols were
added there too (65.1 % → 65.8 %: orthorhombic 32 → 38 of 76 right, monoclinic 84 → 79 of 95).
Letting the other systems' extinction symbols count in the choice of system too was measured
there and not adopted (crystal system 65.8 % → 65.4 %: a garnet and a tetragonal mineral
found, but four low-M tetragonal cells with many absences, P4/ncc or P4₂/ncm, passed
M_N ≥ 10 for orthorhombic and monoclinic minerals); naming the space group after the choice
gets 62 of the 301 right (20.6 %), against 15 with the orthorhombic symbols alone.  The
monoclinic search, measured there after these choices, leaves the crystal system at 65.8 %
and names the space group of 70 (23.3 %): a cell for 19 patterns the higher systems leave
unindexed.  Allowing 4 unindexed lines to a monoclinic cell found 37, but about half of them
for minerals of other systems, and was not adopted; so was adding the trial forms with one
index 2 (201, 021, 102, …): cells for 27, space group right for 9 instead of 8, but twice as
many orthorhombic minerals given a monoclinic cell (8), at about 3× the search time.
The quick filter tries indices up to 8 on the first lines of a cubic pattern (a garnet
starts with 400 and needs 521 and 611 among its first eight lines).  The line-picking
threshold (5 % of the strongest line) was chosen between two values (2 %, 5 %) on
``rruff_dev`` (42.5 % and 49.2 % there, before the metric-symmetry step), so the score there
is slightly optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, permutations
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from ..parallel import map_chunks
from .classify import PatternError, load_scan, snip_baseline
from .patterns import CU_KA
from .simulate import CU_KA1, CU_KA2, bragg_two_theta
SYSTEMS_SEARCHED: tuple[str, ...] = ("cubic", "hexagonal", "trigonal", "tetragonal",
                                     "orthorhombic")
FALLBACK = "monoclinic"
PRECISION_DEG = 0.001              # 2θ: no line counts as placed better than this
MAX_ZERO_DEG = 0.1                 # 2θ zero shift refined with a cell, at most
TRIAL_WIDENING = 2.5               # trial cells match lines within 2.5 × the tolerance
# trial-cell indices (others: 3)
TRIAL_MAX_INDEX = {"cubic": 6, "orthorhombic": 2, "monoclinic": 2}
QUICK_MAX_INDEX = {"cubic": 8}     # indices tried on the first lines by the quick filter
COMPUTED_QUICK_MAX_INDEX = {**QUICK_MAX_INDEX, "trigonal": 8}     # ... of a computed scan's
CU_KA_SPREAD = 0.005               # Å: a scan within this of Cu Kα (Kα1, Kα2 or their mean)
CU_KB = 1.39222                    # Å, Cu Kβ1 (International Tables C, 4.2.2.1)
KB_MAX_RATIO = 0.3                 # a Kβ line is at most this × its Kα line (no filter: ~0.2)
MIN_LINES = 8                      # fewer lines than this: only a cubic cell is tried
FEW_LINES = 4                      # ... that indexes every one of at least this many
CUBIC_FIRST = 11                   # fewer lines: a cubic cell indexing all of them is taken
FEW_MISSING = 2                    # ... and predicts at most this many more lines than seen
WEAK_RELATIVE = 0.01               # weak lines (≥ 1 % of the strongest) that test the absences
NOISE_FREE_FLIPS = 1 / 3           # fewer successive differences change sign: a computed scan
SYMMETRY_MARGIN = 2.0              # a lower system must beat a higher one's M by this factor
METRIC_FREE_DEG = 0.15             # Le Page δ (°) within which a lattice is taken as its
                                   # higher metric without indexing the lines with it
TRICLINIC_AXES = 6                 # a*², b*², c*² of a triclinic trial: three of the first six
TRICLINIC_FIRST = 12               # its cross terms: from lines among the first twelve
TRICLINIC_LINES = 20               # a triclinic cell only for a scan with this many lines
TRICLINIC_ZONE_TERMS = 4           # cross terms kept per zone of a triclinic trial

# lattice centrings: reflection conditions on (h, k, l)
_CENTRINGS = {
    "P": lambda h, k, l: np.ones_like(h, bool),
    "I": lambda h, k, l: (h + k + l) % 2 == 0,
    "F": lambda h, k, l: ((h % 2 == k % 2) & (k % 2 == l % 2)),
    "C": lambda h, k, l: (h + k) % 2 == 0,
    "A": lambda h, k, l: (k + l) % 2 == 0,
    "B": lambda h, k, l: (h + l) % 2 == 0,
    "R": lambda h, k, l: (-h + k + l) % 3 == 0,
}
_LATTICES = {"cubic": ("P", "I", "F"), "hexagonal": ("P",), "trigonal": ("R",),
             "tetragonal": ("P", "I"), "orthorhombic": ("P", "I", "F", "C", "A", "B"),
             "monoclinic": ("P", "C", "A", "I"), "triclinic": ("P",)}
EXTINCTION_TOP = 3                 # best orthorhombic cells re-judged with every extinction symbol
# systems whose extinction symbols count in the choice of the crystal system; the others' name
# the space group of the cell found (chosen on rruff_dev, see the module's docstring)
EXTINCTION_DECIDES = ("orthorhombic",)
# the space groups each search's cells can carry: international numbers and lattice letters
_SEARCH_GROUPS = {"cubic": (range(195, 231), "PIF"), "hexagonal": (range(143, 195), "P"),
                  "trigonal": (range(143, 168), "R"), "tetragonal": (range(75, 143), "PI"),
                  "orthorhombic": (range(16, 75), "PIFCAB"),
                  "monoclinic": (range(3, 16), "PCAI"), "triclinic": (range(1, 3), "P")}


@lru_cache(maxsize=8)
def extinction_symbols(system: str) -> dict[str, tuple[int, ...]]:
    """The extinction symbols of a searched ``system``, from cctbx: every setting of its space
    groups (``sgtbx.space_group_symbol_iterator``; trigonal: the rhombohedral groups in
    hexagonal axes; hexagonal: the primitive trigonal and hexagonal groups) grouped by the
    reflections they leave (:func:`_absent`, cctbx's ``is_sys_absent``, on every (h, k, l) of
    :func:`_hkl` up to index 12).  Keyed by a lattice centring letter for the groups whose
    only conditions are the centring's, otherwise by the names of the settings that share the
    conditions (e.g. "P n 21 a, P n m a"); each value is the space groups' international
    numbers."""
    from cctbx import sgtbx

    numbers, letters = _SEARCH_GROUPS[system]
    test = _hkl(12, system)
    groups: dict[bytes, list[tuple[str, int]]] = {}
    for symbols in sgtbx.space_group_symbol_iterator():
        name = symbols.universal_hermann_mauguin()
        if symbols.number() not in numbers or name[0] not in letters or (
                system == "trigonal" and not name.endswith(":H")) or (
                system == "monoclinic" and name.split()[1::2] != ["1", "1"]):
            continue
        allowed = ~_absent(test, _translated_ops(name))
        groups.setdefault(np.packbits(allowed).tobytes(), []).append((name, symbols.number()))
    centrings = {np.packbits(_CENTRINGS[c](*test.T)).tobytes(): c for c in letters}
    return {centrings.get(key, ", ".join(n for n, _ in members)):
            tuple(sorted({g for _, g in members})) for key, members in groups.items()}


@lru_cache(maxsize=1024)
def most_symmetric_group(numbers: tuple[int, ...]) -> int:
    """Of space groups that share their reflection conditions, the one a crystallographer
    tries first: centrosymmetric, then of the highest order (the powder lines cannot tell the
    Laue classes of one lattice apart, e.g. Fm-3 from Fm-3m), then the lowest number."""
    from cctbx import sgtbx

    def key(n: int) -> tuple[bool, int, int]:
        group = sgtbx.space_group_info(number=n).group()
        return group.is_centric(), group.order_z(), -n

    return max(numbers, key=key)


@lru_cache(maxsize=512)
def _translated_ops(name: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The symmetry operations (rotation matrix, translation mod 1) of space group ``name``
    (cctbx) whose translation is not a lattice vector: the ones that can absent a
    reflection."""
    from cctbx import sgtbx

    ops = {}
    for op in sgtbx.space_group_info(name).group().all_ops():
        t = np.mod(np.array(op.t().as_double()), 1.0)
        if np.abs(t - np.round(t)).max() > 1e-9:
            r = np.array(op.r().as_double()).reshape(3, 3).round().astype(int)
            ops[(r.tobytes(), np.round(t, 6).tobytes())] = (r, t)
    return tuple(ops.values())


def _allowed(hkl: np.ndarray, lattice: str) -> np.ndarray:
    """Which (h, k, l) a lattice centring letter (P, I, F, C, A, B, R) or an extinction symbol
    (a key of :func:`extinction_symbols`; the conditions of its first space group) allows.  A
    reflection is absent when an operation (R, t) of the group leaves it unchanged (h·R = h)
    and shifts its phase (h·t not an integer): cctbx's ``is_sys_absent``, vectorised."""
    if lattice in _CENTRINGS:
        return _CENTRINGS[lattice](hkl[:, 0], hkl[:, 1], hkl[:, 2])
    return ~_absent(hkl, _translated_ops(lattice.split(", ")[0]))


def _absent(hkl: np.ndarray, ops: tuple[tuple[np.ndarray, np.ndarray], ...]) -> np.ndarray:
    """Which (h, k, l) the operations ``ops`` (:func:`_translated_ops`) absent: h·R = h and
    h·t not an integer for one of them (cctbx's ``is_sys_absent``, vectorised)."""
    absent = np.zeros(len(hkl), bool)
    for r, t in ops:
        phase = hkl @ t
        absent |= (hkl @ r == hkl).all(1) & (np.abs(phase - np.round(phase)) > 1e-6)
    return absent


@dataclass
class Solution:
    """The best cell found for one crystal system: ``params`` (A, [B,] C[, D] in Å⁻², see the
    module), ``lattice`` (centring letter), ``m`` (de Wolff's M_N), ``n_lines`` (N),
    ``n_indexed``, ``zero`` (the refined 2θ zero shift, degrees) and ``absences`` (the
    extinction symbol whose reflection conditions M_N was counted with, a key of
    :func:`extinction_symbols`; None: the centring's alone)."""

    system: str
    params: np.ndarray
    lattice: str
    m: float
    n_lines: int
    n_indexed: int
    zero: float = 0.0
    absences: str | None = None

    @property
    def cell(self) -> tuple[float, ...]:
        """Cell edges (a, [b,] c) in Å; monoclinic: (a, b, c in Å, β in degrees); triclinic:
        (a, b, c in Å, α, β, γ in degrees)."""
        return _cell(self.system, self.params)

    @property
    def space_groups(self) -> tuple[int, ...]:
        """The international numbers of the space groups whose reflection conditions are the
        ones M_N was counted with (the extinction symbol's, else the lattice centring's)."""
        return extinction_symbols(self.system)[self.absences or self.lattice]

    def indexes(self, max_unindexed: int) -> bool:
        """Whether the cell leaves at most ``max_unindexed`` of its lines unindexed."""
        return self.n_indexed >= self.n_lines - max_unindexed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"system": self.system, "lattice": self.lattice, "M": round(float(self.m), 2),
                "n_lines": self.n_lines, "n_indexed": self.n_indexed,
                "cell_angstrom": [round(float(c), 4) for c in self.cell[:3]],
                "beta_deg": (round(float(self.cell[3]), 3) if self.system == "monoclinic"
                             else None),
                **({"angles_deg": [round(float(x), 3) for x in self.cell[3:6]]}
                   if self.system == "triclinic" else {}),
                "zero_deg": round(float(self.zero), 4), "absences": self.absences,
                "space_groups": list(self.space_groups),
                "space_group": most_symmetric_group(self.space_groups)}


def full_cell(system: str, cell: tuple[float, ...]) -> tuple[float, ...]:
    """(a, b, c, α, β, γ) in Å and degrees of a cell of ``system`` given by its edges (hexagonal
    and trigonal cells in hexagonal axes)."""
    if system == "cubic":
        return (cell[0],) * 3 + (90.0, 90.0, 90.0)
    if system in ("hexagonal", "trigonal"):
        return (cell[0], cell[0], cell[1], 90.0, 90.0, 120.0)
    if system == "tetragonal":
        return (cell[0], cell[0], cell[1], 90.0, 90.0, 90.0)
    if system == "monoclinic":
        return (cell[0], cell[1], cell[2], 90.0, cell[3], 90.0)
    if system == "triclinic":
        return tuple(cell[:6])
    return tuple(cell[:3]) + (90.0, 90.0, 90.0)


def lattice_crystal_system(system: str, lattice: str, cell: tuple[float, ...],
                           max_delta: float = 1.0) -> str:
    """The crystal system of the lattice's own (metric) symmetry (:func:`metric_cell`).  A
    tetragonal or orthorhombic cell found for lines of a cubic lattice comes back cubic."""
    return metric_cell(system, lattice, cell, max_delta)[0]


def metric_cell(system: str, lattice: str, cell: tuple[float, ...], max_delta: float = 1.0,
                ) -> tuple[str, str, tuple[float, ...]]:
    """The lattice's own (metric) symmetry, from cctbx: the cell with its centring reduced to
    the minimum cell, and the highest lattice symmetry whose 2-fold axes deviate by ≤
    ``max_delta`` degrees (Le Page's method, ``cctbx.sgtbx.lattice_symmetry``).  Returns its
    crystal system, the centring letter and the edges (Å, as :attr:`Solution.cell`: hexagonal
    axes for trigonal) of its conventional cell."""
    from cctbx import crystal

    mini, group = _lattice_group(system, lattice, cell, max_delta)
    found = str(group.crystal_system()).lower()
    metric = crystal.symmetry(unit_cell=mini, space_group=group,
                              assert_is_compatible_unit_cell=False)
    ref = metric.change_basis(metric.change_of_basis_op_to_reference_setting())
    a, b, c, _, beta, _ = ref.unit_cell().parameters()
    edges = {"cubic": (a,), "hexagonal": (a, c), "trigonal": (a, c), "tetragonal": (a, c),
             "orthorhombic": (a, b, c), "monoclinic": (a, b, c, beta)}.get(found, (a, b, c))
    return found, str(ref.space_group_info())[0], tuple(float(e) for e in edges)


def metric_deviation(system: str, lattice: str, cell: tuple[float, ...],
                     max_delta: float = 1.0) -> float:
    """Le Page's δ in degrees: how far the twofold axes of a cell of ``system`` with centring
    ``lattice`` and edges ``cell`` (as :attr:`Solution.cell`) are from those of its metric
    symmetry within ``max_delta`` (:func:`metric_cell`; cctbx's ``find_max_delta``); 0 for a
    lattice exactly of that symmetry."""
    from cctbx.sgtbx import lattice_symmetry

    mini, group = _lattice_group(system, lattice, cell, max_delta)
    return float(lattice_symmetry.find_max_delta(reduced_cell=mini, space_group=group))


def _lattice_group(system: str, lattice: str, cell: tuple[float, ...], max_delta: float,
                   ) -> tuple[Any, Any]:
    """The minimum (reduced) cell of a cell of ``system`` (centring ``lattice``, edges as
    :attr:`Solution.cell`) and its lattice symmetry within ``max_delta`` degrees (cctbx
    ``unit_cell`` and ``space_group``)."""
    from cctbx import crystal
    from cctbx.sgtbx import lattice_symmetry

    sym = crystal.symmetry(unit_cell=full_cell(system, cell),
                           space_group_symbol=f"Hall: {lattice} 1")
    mini = sym.change_basis(sym.change_of_basis_op_to_minimum_cell()).unit_cell()
    return mini, lattice_symmetry.group(mini, max_delta=max_delta)


def _params(system: str, cell: tuple[float, ...]) -> np.ndarray:
    """Quadratic-form parameters (Å⁻²) of a cell of ``system`` given as :attr:`Solution.cell`
    gives it (edges in Å; monoclinic: a, b, c and β in degrees): the inverse of
    :func:`_cell`."""
    e = np.asarray(cell, float)
    if system == "triclinic":          # the direct metric from (a, b, c, α, β, γ), inverted
        a, b, c = e[:3]
        ca, cb, cg = np.cos(np.radians(e[3:6]))
        g = np.linalg.inv(np.array([[a * a, a * b * cg, a * c * cb],
                                    [a * b * cg, b * b, b * c * ca],
                                    [a * c * cb, b * c * ca, c * c]]))
        return np.array([g[0, 0], g[1, 1], g[2, 2], 2 * g[0, 1], 2 * g[0, 2], 2 * g[1, 2]])
    if system in ("hexagonal", "trigonal"):
        return np.array([4 / (3 * e[0] ** 2), 1 / e[1] ** 2])
    if system == "monoclinic":         # a* = 1/(a sin β), c* = 1/(c sin β), cos β* = -cos β
        sin2, cos = np.sin(np.radians(e[3])) ** 2, np.cos(np.radians(e[3]))
        return np.array([1 / (e[0] ** 2 * sin2), 1 / e[1] ** 2, 1 / (e[2] ** 2 * sin2),
                         -2 * cos / (e[0] * e[2] * sin2)])
    return 1 / e ** 2


_RANK = {"triclinic": 0, "monoclinic": 1, "orthorhombic": 2, "tetragonal": 3, "trigonal": 4,
         "hexagonal": 4, "cubic": 5}


def higher_metric_cell(sol: Solution, q: np.ndarray, grad: np.ndarray, tol_deg: float = 0.02,
                       min_m: float = 10.0,
                       metric: tuple[str, str, tuple[float, ...]] | None = None,
                       ) -> Solution | None:
    """When the lattice of a cell ``sol`` has a higher metric symmetry
    (:func:`metric_cell`; ``metric``: its answer for ``sol``, when already computed), that
    lattice's conventional cell refined on the lines at Q (Å⁻²) and counted with its system's
    extinction symbols, if it indexes as many lines with M_N ≥ ``min_m``; None when it does
    not (the lines need the lower cell's freedom) or when the metric symmetry is not higher
    than ``sol``'s system."""
    system, letter, edges = metric or metric_cell(sol.system, sol.lattice, sol.cell)
    if _RANK.get(system, -1) <= _RANK[sol.system] or system not in _LATTICES:
        return None
    m, n_hit, refined, zero = _judge(_params(system, edges), q, grad, tol_deg, system, letter,
                                     zero=sol.zero)
    if n_hit < sol.n_indexed or m < min_m:
        return None
    return best_extinction(Solution(system, refined, letter, m, sol.n_lines, n_hit, zero),
                           q, grad, tol_deg)


def q_of_two_theta(two_theta: np.ndarray, wavelength: float = CU_KA1) -> np.ndarray:
    """Q = 1/d² = (2 sin θ / λ)² in Å⁻² of lines at ``two_theta`` degrees."""
    return (2 * np.sin(np.radians(np.asarray(two_theta, float)) / 2) / wavelength) ** 2


def dq_per_degree(two_theta: np.ndarray, wavelength: float = CU_KA1) -> np.ndarray:
    """dQ/d(2θ) = 2 sin 2θ / λ² per radian, in Å⁻² per degree: the Q tolerance that a 2θ
    tolerance means at each line."""
    return 2 * np.sin(np.radians(np.asarray(two_theta, float))) / wavelength ** 2 * np.pi / 180


def parabola_offsets(y: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Offsets (grid points, within ±1) of the vertices of the parabolas through the three
    points around each maximum ``top`` of ``y``: the sub-step position of a line."""
    left = y[np.clip(top - 1, 0, None)]
    mid = y[top]
    right = y[np.clip(top + 1, None, len(y) - 1)]
    curve = left - 2 * mid + right
    shift = np.divide(0.5 * (left - right), curve, out=np.zeros_like(curve), where=curve < 0)
    return np.clip(shift, -1, 1)


def noise_free(intensity: np.ndarray, flips: float = NOISE_FREE_FLIPS) -> bool:
    """Whether a scan's ``intensity`` (counts on a regular 2θ step) is a computed, noise-free
    profile: fewer than ``flips`` of its successive point-to-point differences (those above
    10⁻⁶ of the strongest point) change sign.  Counting noise makes about two in three do
    (every ``rruff_dev`` scan: 0.64–0.86, low-count ones with many equal counts too); a
    profile of peaks changes sign only at their tops and feet (notebook 06's simulated
    patterns: 0.04–0.08)."""
    y = np.asarray(intensity, float)
    if not len(y):
        return False
    diffs = np.diff(y)
    diffs = diffs[np.abs(diffs) > 1e-6 * np.abs(y).max()]
    if len(diffs) < 2:
        return False
    return float(np.mean(np.sign(diffs[1:]) != np.sign(diffs[:-1]))) < flips


def pick_lines(two_theta: np.ndarray, intensity: np.ndarray, relative: float = 0.05,
               noise_sigmas: float = 5.0, smooth_deg: float = 0.02, background_deg: float = 1.5,
               drop_k_beta: bool = False, curvature: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Lines of a measured Cu Kα scan (2θ degrees increasing on a regular step, counts):
    background removed (SNIP, window ``background_deg``), lightly smoothed (Gaussian of
    ``smooth_deg``), maxima whose prominence is ≥ ``relative`` × the strongest and ≥
    ``noise_sigmas`` × the smoothed scan's noise (estimated from the point-to-point
    differences of the raw scan, median absolute deviation), positions refined on a parabola;
    a weaker maximum where a stronger line's Kα2 falls (± 0.03°, ≤ 0.75 × its height) is
    dropped, and with ``drop_k_beta`` so is one where its Kβ falls (± 0.03°, ≤
    ``KB_MAX_RATIO`` × its height: an unfiltered tube's Kβ line).  Returns (2θ, height) sorted
    by 2θ.  With ``curvature`` the lines are the maxima of −d²y/d(2θ)² instead (the height
    test on the smoothed scan kept): they resolve lines closer than the maxima do, and
    :func:`index_scan` takes them for a second look when no cell indexes the maxima.  Taking
    them for every scan was measured on 2026-12-07 and not adopted: indexing alone on notebook
    06's synthetic test 62.1 % → 67.1 % (blended lines resolved; 8 of 18 triclinic structures
    instead of 5), on its 200 MP patterns 69.5 % → 68.5 %, on ``rruff_dev`` 66.4 % → 60.5 %
    (orthorhombic minerals 38 → 24 right) — the measured scans users bring decide."""
    tt = np.asarray(two_theta, float)
    raw = np.asarray(intensity, float)
    step = float(np.median(np.diff(tt)))
    width = max(smooth_deg / step, 0.5)
    diffs = np.diff(raw)
    noise = 1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2)
    noise /= np.sqrt(2 * np.sqrt(np.pi) * width)        # what the Gaussian smoothing leaves
    y = gaussian_filter1d(raw, width)
    y = y - snip_baseline(y[None, :], int(round(background_deg / step)))[0]
    if y.max() <= 0:
        return np.zeros(0), np.zeros(0)
    floor = max(relative * y.max(), noise_sigmas * noise)
    if curvature:                   # maxima of −d²y/d(2θ)²: lines closer than the maxima
        bend = -np.gradient(np.gradient(y))
        top, _ = find_peaks(bend, prominence=relative * bend.max())
        top = top[y[top] >= floor]
        pos = tt[top] + parabola_offsets(bend, top) * step
    else:
        top, _ = find_peaks(y, prominence=floor)
        pos = tt[top] + parabola_offsets(y, top) * step
    mid = y[top]
    keep = np.ones(len(pos), bool)
    a2 = bragg_two_theta(pos, CU_KA1, CU_KA2)
    kb = bragg_two_theta(pos, CU_KA1, CU_KB)
    for i in np.argsort(-mid):
        if not keep[i]:
            continue
        twin = keep & (np.abs(pos - a2[i]) < 0.03) & (mid <= 0.75 * mid[i])
        if drop_k_beta:
            twin |= keep & (np.abs(pos - kb[i]) < 0.03) & (mid <= KB_MAX_RATIO * mid[i])
        keep[twin] = False
    return pos[keep], mid[keep]


# ---------------------------------------------------------------------------------------------
# Reflection lists: index triples and their quadratic forms per crystal system
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _hkl(max_index: int, system: str) -> np.ndarray:
    """Index triples (h, k, l) with |indices| ≤ ``max_index`` up to the symmetry that leaves Q
    unchanged for ``system``, (0, 0, 0) excluded (cached: read-only)."""
    r = np.arange(-max_index, max_index + 1)
    h, k, l = (a.ravel() for a in np.meshgrid(r, r, r, indexing="ij"))
    if system in ("hexagonal", "trigonal"):
        keep = (l >= 0)
    elif system == "monoclinic":               # Q(h, k, l) = Q(h, -k, l) = Q(-h, k, -l)
        keep = (k >= 0) & ((l > 0) | ((l == 0) & (h >= 0)))
    elif system == "triclinic":                # Q(h, k, l) = Q(-h, -k, -l) only
        keep = (h > 0) | ((h == 0) & ((k > 0) | ((k == 0) & (l > 0))))
    else:
        keep = (h >= 0) & (k >= 0) & (l >= 0)
    hkl = np.stack([h[keep], k[keep], l[keep]], 1)
    hkl = hkl[np.abs(hkl).sum(1) > 0]
    hkl.flags.writeable = False
    return hkl


def forms(hkl: np.ndarray, system: str) -> np.ndarray:
    """The coefficients of Q's parameters for each (h, k, l) of ``system`` (see the module):
    (n, 1) cubic, (n, 2) hexagonal/trigonal/tetragonal, (n, 3) orthorhombic."""
    h, k, l = hkl[:, 0], hkl[:, 1], hkl[:, 2]
    if system == "cubic":
        return (h * h + k * k + l * l)[:, None].astype(float)
    if system in ("hexagonal", "trigonal"):
        return np.stack([h * h + h * k + k * k, l * l], 1).astype(float)
    if system == "tetragonal":
        return np.stack([h * h + k * k, l * l], 1).astype(float)
    if system == "orthorhombic":
        return np.stack([h * h, k * k, l * l], 1).astype(float)
    if system == "monoclinic":
        return np.stack([h * h, k * k, l * l, h * l], 1).astype(float)
    if system == "triclinic":
        return np.stack([h * h, k * k, l * l, h * k, h * l, k * l], 1).astype(float)
    raise ValueError(f"indexing searches {', '.join(SYSTEMS_SEARCHED)}, not {system!r}")


def _cell(system: str, params: np.ndarray) -> tuple[float, ...]:
    """Cell edges (Å) from the quadratic-form parameters."""
    p = np.asarray(params, float)
    if system == "cubic":
        return (1 / np.sqrt(p[0]),)
    if system in ("hexagonal", "trigonal"):
        return (np.sqrt(4 / (3 * p[0])), 1 / np.sqrt(p[1]))
    if system == "triclinic":                 # the direct metric: the reciprocal one inverted
        g = np.linalg.inv(_reciprocal_metric(p))
        a, b, c = np.sqrt(np.diag(g))
        return (a, b, c, *np.degrees(np.arccos([g[1, 2] / (b * c), g[0, 2] / (a * c),
                                                g[0, 1] / (a * b)])))
    if system == "monoclinic":                # a*², b*², c*², 2 a* c* cos β*
        cos_beta_star = p[3] / (2 * np.sqrt(p[0] * p[2]))
        sin_beta_star = np.sqrt(max(1 - cos_beta_star ** 2, 1e-12))
        return (1 / (np.sqrt(p[0]) * sin_beta_star), 1 / np.sqrt(p[1]),
                1 / (np.sqrt(p[2]) * sin_beta_star), float(np.degrees(np.arccos(-cos_beta_star))))
    return tuple(1 / np.sqrt(p))


def _reciprocal_metric(params: np.ndarray) -> np.ndarray:
    """The reciprocal metric tensor G* (Å⁻², 3 × 3; stacked for (n, 6) parameters) of a
    triclinic quadratic form (A, B, C, D, E, F): Q(h) = h G* hᵀ."""
    p = np.asarray(params, float)
    a, b, c, d, e, f = np.moveaxis(p, -1, 0)
    return np.stack([np.stack([a, d / 2, e / 2], -1), np.stack([d / 2, b, f / 2], -1),
                     np.stack([e / 2, f / 2, c], -1)], -2)


def _angle_allowed(cross: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether a cross term x = 2 a* b* cos γ* (Å⁻²) of two reciprocal axes with a*² = ``a``
    and b*² = ``b`` has |cos γ*| < 0.8 (the angle within about 37–143°)."""
    return np.asarray(cross) ** 2 < 0.64 * 4 * np.asarray(a) * np.asarray(b)


def _valid(system: str, params: np.ndarray) -> np.ndarray:
    """Whether quadratic-form parameters (n, n_par) describe a lattice: all positive, and for a
    monoclinic form a positive-definite h0l metric (D² < 4 A C, |cos β*| ≤ 0.8: β within about
    37–143°); for a triclinic one a positive-definite metric with every reciprocal angle's
    |cos| ≤ 0.8."""
    p = np.atleast_2d(params)
    if system == "triclinic":
        diag = p[:, :3]
        ok = (diag > 0).all(1)
        for cross, (i, j) in zip((3, 4, 5), ((0, 1), (0, 2), (1, 2))):
            ok &= _angle_allowed(p[:, cross], diag[:, i], diag[:, j])
        det = np.linalg.det(_reciprocal_metric(np.where(ok[:, None], p, 1.0)))
        return ok & (det > 0)
    if system != "monoclinic":
        return (p > 0).all(1)
    return (p[:, :3] > 0).all(1) & _angle_allowed(p[:, 3], p[:, 0], p[:, 2])


def _smallest_q(system: str, params: np.ndarray) -> float:
    """A lower bound of Q / (h² + k² + l²) for a cell (the smallest eigenvalue of its
    reciprocal metric up to the hexagonal factor): bounds the indices a range of Q needs."""
    p = np.asarray(params, float)
    if system == "triclinic":
        return float(np.linalg.eigvalsh(_reciprocal_metric(p))[0])
    if system == "monoclinic":
        metric = np.array([[p[0], 0, p[3] / 2], [0, p[1], 0], [p[3] / 2, 0, p[2]]])
        return float(np.linalg.eigvalsh(metric)[0])
    return float(np.min(p)) * (0.75 if system in ("hexagonal", "trigonal") else 1.0)


def _trial_params(q: np.ndarray, system: str, n_first: int, max_trial_index: int,
                  ) -> np.ndarray:
    """Trial parameters: every assignment of distinct small forms (indices ≤
    ``max_trial_index``) to every set of n_par lines among the first ``n_first``; positive
    solutions only, (n_trials, n_par)."""
    hkl = _hkl(max_trial_index, system)
    if system == "monoclinic":      # indices ≤ 1 and the axes' second orders (200, 020, 002)
        hkl = hkl[(np.abs(hkl).max(1) <= 1) | (np.count_nonzero(hkl, axis=1) == 1)]
    f = np.unique(forms(hkl, system), axis=0)
    n_par = f.shape[1]
    first = q[:n_first]
    lines = np.array(list(combinations(range(len(first)), n_par)), int).reshape(-1, n_par)
    combos = np.array(list(permutations(range(len(f)), n_par)), int).reshape(-1, n_par)
    if not len(lines) or not len(combos):
        return np.zeros((0, n_par))
    mats = np.tile(f[combos], (len(lines), 1, 1))      # (n, n_par, n_par): every pairing
    rhs = np.repeat(first[lines], len(combos), axis=0)  # (n, n_par)
    det = np.linalg.det(mats)
    ok = np.abs(det) > 1e-9
    sol = np.linalg.solve(mats[ok], rhs[ok][..., None])[..., 0]
    sol = sol[_valid(system, sol) & (np.abs(sol) < 1.0).all(1)
              & (sol[:, :min(n_par, 3)] > 1e-4).all(1)]
    if system == "orthorhombic" and len(sol):
        sol = np.sort(sol, axis=1)                     # A ≤ B ≤ C: axes are interchangeable
    if system == "monoclinic" and len(sol):            # h → -h flips D; a ↔ c swaps A and C
        sol[:, 3] = np.abs(sol[:, 3])
        sol[:, [0, 2]] = np.sort(sol[:, [0, 2]], axis=1)
    return np.unique(np.round(sol, 7), axis=0)


def _zone_cross_terms(q: np.ndarray, tol_q: np.ndarray, a: float, b: float, n_first: int,
                      keep: int) -> np.ndarray:
    """The ``keep`` most likely values of a zone's cross term x (Å⁻²; ≥ 0: its sign is a
    choice of axes within the zone) for the zone of two reciprocal axes with a*² = ``a`` and
    b*² = ``b``, whose lines are Q(h, k) = h² a + k² b + h k x: from each of the first
    ``n_first`` lines at Q taken as 11, 21 or 12, and zero, ranked by how many of all the
    lines at Q the zone's lines with h k ≠ 0 (|h|, |k| ≤ 3) place within ``tol_q`` (Ito's
    zones: a zone is found before the lattice)."""
    first = q[:n_first]
    x = np.abs(np.concatenate([(first - h * h * a - k * k * b) / (h * k)
                               for h, k in ((1, 1), (2, 1), (1, 2))]))
    x = np.unique(np.append(np.round(x, 8), 0.0))
    x = x[_angle_allowed(x, a, b)]
    h, k = (v.ravel() for v in np.meshgrid(np.arange(1, 4), np.arange(-3, 4), indexing="ij"))
    h, k = h[k != 0], k[k != 0]
    calc = (h * h * a + k * k * b)[None, :] + (h * k)[None, :] * x[:, None]     # (nx, nf)
    near = np.abs(calc[:, :, None] - q[None, None, :]) <= tol_q[None, None, :]
    score = near.any(1).sum(1)
    return x[np.argsort(-score, kind="stable")[:keep]]


def _triclinic_trials(q: np.ndarray, tol_q: np.ndarray, n_first: int,
                      n_axes: int = TRICLINIC_AXES, keep: int = TRICLINIC_ZONE_TERMS,
                      ) -> np.ndarray:
    """Triclinic trial forms (A, B, C, D, E, F) for lines at Q (Å⁻², increasing): a*², b*², c*²
    three of the first ``n_axes`` lines (the shortest reciprocal vectors: the three shortest
    non-coplanar ones are a basis), and each cross term one of the ``keep`` best of its zone
    (:func:`_zone_cross_terms`: from lines among the first ``n_first`` taken as 110, 210 or
    120 — a line blended with a neighbour leaves the others).  The signs of D and E are fixed
    by the choice of the axes' directions (h → −h flips D and E, l → −l flips E and F), F
    takes both.  ``tol_q``: each line's tolerance in Q (Å⁻²) for the zones' ranking."""
    out = []
    for i, j, k in combinations(range(min(n_axes, len(q))), 3):
        a, b, c = q[i], q[j], q[k]
        d = _zone_cross_terms(q, tol_q, a, b, n_first, keep)
        e = _zone_cross_terms(q, tol_q, a, c, n_first, keep)
        f = _zone_cross_terms(q, tol_q, b, c, n_first, keep)
        f = np.unique(np.concatenate([f, -f]))
        dd, ee, ff = (g.ravel() for g in np.meshgrid(d, e, f, indexing="ij"))
        out.append(np.column_stack([np.full(len(dd), a), np.full(len(dd), b),
                                    np.full(len(dd), c), dd, ee, ff]))
    if not out:
        return np.zeros((0, 6))
    trials = np.concatenate(out)
    return np.unique(np.round(trials[_valid("triclinic", trials)], 7), axis=0)


def _quick_filter(trials: np.ndarray, q: np.ndarray, tol_q: np.ndarray, system: str,
                  n_quick: int, keep: int, max_index: int = 4, chunk: int = 2048,
                  ) -> np.ndarray:
    """The ``keep`` trials that index all but at most one of the first ``n_quick`` lines with
    indices ≤ ``max_index`` (P lattice), best first by a rough figure of merit.  The lines
    are taken one at a time and a trial that has missed two is dropped at once (most do
    within the first few lines), so later lines are matched only against the survivors: the
    same trials, in the same order, as matching every line against every trial (the 301
    ``rruff_dev`` records and ``bench_xrd_indexing.py``'s table unchanged, 2026-12-07); 31 of
    those scans in one process 50 s → 32 s."""
    f = np.unique(forms(_hkl(max_index, system), system), axis=0)
    qq, tt = q[:n_quick], tol_q[:n_quick]
    good, score = [], []
    for lo in range(0, len(trials), chunk):
        p = trials[lo:lo + chunk]
        calc = p @ f.T                                          # (c, r)
        err = np.zeros((len(p), len(qq)))                       # (c, n) Å⁻²
        missed = np.zeros(len(p), int)
        alive = np.arange(len(p))
        for j in range(len(qq)):
            e = np.abs(calc[alive] - qq[j]).min(axis=1)
            err[alive, j] = e
            missed[alive] += ~(e <= tt[j])
            alive = alive[missed[alive] <= 1]
            if not len(alive):
                break
        if not len(alive):
            continue
        calc, err, p = calc[alive], err[alive], p[alive]
        hit = err <= tt[None, :]
        n_hit = hit.sum(1)
        eps = np.where(hit, err, 0).sum(1) / np.maximum(n_hit, 1)
        n_calc = (calc <= qq[-1] * 1.0001).sum(1)              # lines up to the last one
        fom = qq[-1] / (2 * np.maximum(eps, 1e-7) * np.maximum(n_calc, 1))
        good.append(p)
        score.append(fom * (n_hit == len(qq)))
    if not good:
        return np.zeros((0, trials.shape[1]))
    p, s = np.concatenate(good), np.concatenate(score)
    return p[np.argsort(-s)[:keep]]


@lru_cache(maxsize=128)
def _reflections(max_index: int, system: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_hkl` and their :func:`forms` (cached: read-only)."""
    hkl = _hkl(max_index, system)
    coef = forms(hkl, system)
    coef.flags.writeable = False
    return hkl, coef


@lru_cache(maxsize=4096)
def _lattice_mask(max_index: int, system: str, lattice: str) -> np.ndarray:
    """Which reflections of :func:`_hkl` ``lattice`` allows (cached, a boolean per reflection:
    the reflection lists themselves are cached once per maximum index, not per lattice)."""
    mask = _allowed(_hkl(max_index, system), lattice)
    mask.flags.writeable = False
    return mask


def _calc_lines(params: np.ndarray, system: str, lattice: str, q_max: float,
                max_index: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """The (h, k, l) of a cell up to ``q_max`` (Å⁻²) that ``lattice`` (see :func:`_allowed`)
    allows, and their Q, sorted by Q."""
    smallest = _smallest_q(system, params)
    top = int(min(max_index, np.ceil(np.sqrt(q_max / max(smallest, 1e-9))) + 1))
    hkl, coef = _reflections(top, system)
    calc = coef @ params
    inside = np.flatnonzero(_lattice_mask(top, system, lattice) & (calc <= q_max))
    inside = inside[np.argsort(calc[inside])]
    return hkl[inside], calc[inside]


def _judge(params: np.ndarray, q: np.ndarray, grad: np.ndarray, tol_deg: float, system: str,
           lattice: str, refine: int = 3, zero: float = 0.0,
           ) -> tuple[float, int, np.ndarray, float]:
    """Refine a trial cell (and the 2θ zero shift in degrees, from ``zero``, ≤
    ``MAX_ZERO_DEG``) by least squares on the lines it indexes within ``tol_deg``; returns
    (M_N, number indexed, refined parameters, zero shift)."""
    n = len(q)
    p = np.asarray(params, float)
    hit = np.zeros(n, bool)
    err = np.zeros(n)
    calc_all = np.zeros(0)
    for it in range(refine + 1):
        q_corr = q - zero * grad
        hkl, calc_all = _calc_lines(p, system, lattice, q_corr[-1] * 1.02)
        if len(calc_all) == 0:
            return 0.0, 0, p, zero
        pos = np.clip(np.searchsorted(calc_all, q_corr), 1, len(calc_all) - 1)
        near = np.where(np.abs(calc_all[pos - 1] - q_corr) <= np.abs(calc_all[pos] - q_corr),
                        pos - 1, pos)
        near[q_corr <= calc_all[0]] = 0
        err = np.abs(calc_all[near] - q_corr)
        # the trial's own lines may sit off by a zero shift: match wide first, then tighten
        hit = err <= (TRIAL_WIDENING if it == 0 else 1.0) * tol_deg * grad
        if hit.sum() <= p.size + 1:
            break
        design = np.column_stack([forms(hkl[near[hit]], system), grad[hit]])
        sol, *_ = np.linalg.lstsq(design, q[hit], rcond=None)
        if abs(sol[-1]) > MAX_ZERO_DEG:         # zero at its bound: the cell refined alone
            bound = float(np.clip(sol[-1], -MAX_ZERO_DEG, MAX_ZERO_DEG))
            cell, *_ = np.linalg.lstsq(design[:, :-1], q[hit] - bound * grad[hit], rcond=None)
            sol = np.append(cell, bound)
        if not _valid(system, sol[:-1])[0]:
            break
        p, zero = sol[:-1], float(sol[-1])
    q_last = q[-1] - zero * grad[-1]
    distinct = np.unique(np.round(calc_all[calc_all <= q_last * 1.0001] / q_last, 6))
    # an unindexed line counts with the full tolerance as its discrepancy
    # (and no line is placed better than PRECISION_DEG, the precision of a good measurement)
    eps = float(np.where(hit, np.maximum(err, PRECISION_DEG * grad), tol_deg * grad).mean())
    m = q_last / (2 * eps * max(len(distinct), 1))
    return float(m), int(hit.sum()), p, zero


def with_extinctions(sol: Solution, q: np.ndarray, grad: np.ndarray, tol_deg: float = 0.02,
                     ) -> list[Solution]:
    """The cell of ``sol`` judged again with each extinction symbol of its system (refined
    from its zero shift): those that index as many of the lines at Q (Å⁻²) as the cell did
    with its lattice centring alone."""
    recounted = (recount(sol, symbol, q, grad, tol_deg)
                 for symbol in extinction_symbols(sol.system) if symbol not in _CENTRINGS)
    return [s for s in recounted if s.n_indexed >= sol.n_indexed]


def recount(sol: Solution, conditions: str, q: np.ndarray, grad: np.ndarray,
            tol_deg: float = 0.02) -> Solution:
    """The cell of ``sol`` judged again on the lines at Q (Å⁻²), refined from its zero shift,
    with other reflection conditions: a lattice centring letter or an extinction symbol of its
    system (a key of :func:`extinction_symbols`)."""
    m, n_hit, refined, zero = _judge(sol.params, q, grad, tol_deg, sol.system, conditions,
                                     zero=sol.zero)
    return Solution(sol.system, refined, conditions[0], m, sol.n_lines, n_hit, zero,
                    None if conditions in _CENTRINGS else conditions)


def best_extinction(sol: Solution, q: np.ndarray, grad: np.ndarray, tol_deg: float = 0.02,
                    ) -> Solution:
    """``sol`` or the cell counted with the extinction symbol of its system
    (:func:`with_extinctions`) that gives the highest M_N, whichever is higher."""
    return max([sol, *with_extinctions(sol, q, grad, tol_deg)], key=lambda s: s.m)


def contradicting_lines(sol: Solution, q_weak: np.ndarray, grad_weak: np.ndarray,
                        q_last: float, tol_deg: float = 0.02) -> int:
    """How many of the lines at ``q_weak`` (Å⁻², the weak lines picked too, uncorrected for the
    zero shift; dQ/d2θ ``grad_weak``) up to the cell's last indexed line ``q_last`` sit within
    ``tol_deg`` of a reflection of ``sol``'s cell with a primitive lattice but of none that its
    lattice centring and extinction symbol allow: each one a line that the reflection
    conditions of ``sol`` forbid."""
    q_corr = np.asarray(q_weak, float) - sol.zero * np.asarray(grad_weak, float)
    inside = q_corr <= q_last * 1.0001
    if not inside.any():
        return 0
    q_corr, tol_q = q_corr[inside], tol_deg * np.asarray(grad_weak, float)[inside]

    def near(lattice: str) -> np.ndarray:
        _, calc = _calc_lines(sol.params, sol.system, lattice, q_last * 1.02)
        if len(calc) == 0:
            return np.zeros(len(q_corr), bool)
        return np.abs(calc[None, :] - q_corr[:, None]).min(axis=1) <= tol_q

    return int((near("P") & ~near(sol.absences or sol.lattice)).sum())


def weak_line_group(sol: Solution, q: np.ndarray, grad: np.ndarray, q_weak: np.ndarray,
                    grad_weak: np.ndarray, tol_deg: float = 0.02) -> Solution:
    """``sol`` if no weak line contradicts its reflection conditions
    (:func:`contradicting_lines`), else the same cell counted with the lattice centring or
    extinction symbol of its system that no weak line contradicts, indexes as many of the lines
    at Q (Å⁻²) and gives the highest M_N (the primitive cell's, at worst): the absences a
    crystallographer reads off a pattern are those of its weak lines too, not only of the
    strongest."""
    q_last = float(q[sol.n_lines - 1] - sol.zero * grad[sol.n_lines - 1])
    if contradicting_lines(sol, q_weak, grad_weak, q_last, tol_deg) == 0:
        return sol
    judged = [recount(sol, lattice, q, grad, tol_deg) for lattice in _LATTICES[sol.system]]
    fits = [s for s in judged + with_extinctions(sol, q, grad, tol_deg)
            if s.n_indexed >= sol.n_indexed
            and contradicting_lines(s, q_weak, grad_weak, q_last, tol_deg) == 0]
    return max(fits, key=lambda s: s.m, default=sol)


def best_cell(q: np.ndarray, grad: np.ndarray, system: str, tol_deg: float = 0.02,
              max_unindexed: int = 2, n_first: int = 6, max_trial_index: int | None = None,
              keep: int = 40, quick_max_index: Mapping[str, int] = QUICK_MAX_INDEX,
              ) -> Solution | None:
    """The best cell of ``system`` for lines at Q (Å⁻², increasing) with dQ/d2θ ``grad``: the
    trial with the highest M_N, among those leaving ≤ ``max_unindexed`` lines unindexed if
    any do; the quick filter matches the first lines with indices up to ``quick_max_index``
    of the system (4 where it names none)."""
    if max_trial_index is None:
        max_trial_index = TRIAL_MAX_INDEX.get(system, 3)
    tol_q = TRIAL_WIDENING * tol_deg * grad
    if system == "triclinic":
        trials = _triclinic_trials(q, tol_q, max(n_first, TRICLINIC_FIRST))
    else:
        trials = _trial_params(q, system, n_first, max_trial_index)
    trials = _quick_filter(trials, q, tol_q, system, min(len(q), 8), keep,
                           quick_max_index.get(system, 4))

    def rank(sol: Solution) -> tuple[bool, float]:
        ok = sol.indexes(max_unindexed)
        return ok, sol.m if ok else float(sol.n_indexed)

    judged = []
    for p in trials:
        for lattice in _LATTICES[system]:
            m, n_hit, refined, zero = _judge(p, q, grad, tol_deg, system, lattice)
            judged.append(Solution(system, refined, lattice, m, len(q), n_hit, zero))
    if system in EXTINCTION_DECIDES:
        # the best cells again, counted with each extinction symbol's reflection conditions
        # (Pnma leaves out half of the 0kl and hk0 lines)
        for sol in sorted(judged, key=rank, reverse=True)[:EXTINCTION_TOP]:
            judged.extend(with_extinctions(sol, q, grad, tol_deg))
    best = max(judged, key=rank, default=None)
    if best is not None and system == "monoclinic":
        best = best_monoclinic_cell(best, q, grad, tol_deg)
    if best is not None and system == "triclinic":
        best = reduced_triclinic_cell(best, q, grad, tol_deg)
    return best


def best_monoclinic_cell(sol: Solution, q: np.ndarray, grad: np.ndarray,
                         tol_deg: float = 0.02) -> Solution:
    """A monoclinic cell (b unique) as the cell that cctbx's ``find_best_cell`` chooses among
    its lattice's cell choices (a C cell may become I), refined again on the lines at Q (Å⁻²):
    a trial's cell can come out as any of them (β = 138° for a P2₁/c cell of β = 103°)."""
    from cctbx import crystal

    sym = crystal.symmetry(unit_cell=full_cell("monoclinic", sol.cell),
                           space_group_symbol=f"{sol.lattice} 1 2/m 1").best_cell()
    name = str(sym.space_group_info())
    if name.split()[1::2] != ["1", "1"]:
        return sol
    a, b, c, _, beta, _ = sym.unit_cell().parameters()
    m, n_hit, refined, zero = _judge(_params("monoclinic", (a, b, c, beta)), q, grad, tol_deg,
                                     "monoclinic", name[0], zero=sol.zero)
    if n_hit < sol.n_indexed:
        return sol
    return Solution("monoclinic", refined, name[0], m, sol.n_lines, n_hit, zero)


def reduced_triclinic_cell(sol: Solution, q: np.ndarray, grad: np.ndarray,
                           tol_deg: float = 0.02) -> Solution:
    """A triclinic cell as its Niggli-reduced cell (cctbx ``niggli_cell``: the same lattice,
    the conventional choice of its edges and angles), refined again on the lines at Q (Å⁻²);
    ``sol`` itself if the reduced cell indexes fewer lines."""
    from cctbx import crystal

    reduced = crystal.symmetry(unit_cell=full_cell("triclinic", sol.cell),
                               space_group_symbol="P 1").niggli_cell()
    m, n_hit, refined, zero = _judge(_params("triclinic", reduced.unit_cell().parameters()), q,
                                     grad, tol_deg, "triclinic", "P", zero=sol.zero)
    if n_hit < sol.n_indexed:
        return sol
    return Solution("triclinic", refined, "P", m, sol.n_lines, n_hit, zero)


def predicts_few_lines(sol: Solution, q_seen: np.ndarray,
                       max_missing: int = FEW_MISSING) -> bool:
    """Whether a cell predicts at most ``max_missing`` more distinct lines (Q within 10⁻⁴ Å⁻²,
    those its extinction symbol allows, else its centring) than the ``q_seen`` lines (Å⁻²: all
    a scan shows, e.g. down to 1 % of the strongest) up to the last of them: what a small cell
    found on a few lines must explain.  A large cell fits a few low-angle lines as well, but
    predicts many lines nobody sees."""
    q_seen = np.sort(np.asarray(q_seen, float))
    if not len(q_seen):
        return False
    _, calc = _calc_lines(sol.params, sol.system, sol.absences or sol.lattice,
                          q_seen[-1] * 1.0005)
    distinct = int(np.sum(np.diff(calc) > 1e-4) + 1) if len(calc) else 0
    return distinct <= len(q_seen) + max_missing


def symmetry_margin(higher: str, lower: str) -> float:
    """The factor by which the M_N of the best cell of the ``lower`` system must exceed that of
    the ``higher`` one for the lower to be chosen: ``SYMMETRY_MARGIN`` (a lower system has
    more freedom to fit lines by chance), except 1 for a rhombohedral cell against a hexagonal
    one — the same metric with the same two parameters, R a centring of it, chosen by M_N as
    P, I and F are within a system (the first twenty lines of an R lattice give the hexagonal
    P cell about half the R cell's M_N, not a third)."""
    return 1.0 if (higher, lower) == ("hexagonal", "trigonal") else SYMMETRY_MARGIN


def index_lines(two_theta: np.ndarray, wavelength: float = CU_KA1, n_lines: int = 20,
                tol_deg: float = 0.02, min_m: float = 10.0, max_unindexed: int = 2,
                min_lines: int = MIN_LINES, weak_two_theta: np.ndarray | None = None,
                few_lines: int = FEW_LINES, cubic_first: int = CUBIC_FIRST,
                triclinic: bool = True,
                monoclinic_check: bool = True, computed: bool = False) -> dict[str, Any]:
    """The crystal system that indexing gives for lines at ``two_theta`` (degrees): the highest
    of cubic, hexagonal, trigonal (rhombohedral lattice), tetragonal, orthorhombic whose best
    cell indexes all but ≤ ``max_unindexed`` of the first ``n_lines`` lines with M_N ≥
    ``min_m``; when none does (or, with ``monoclinic_check``, when the best is orthorhombic and
    a monoclinic cell has ``SYMMETRY_MARGIN`` × its M_N), a monoclinic cell held to the same
    rule, then (with ``triclinic`` and at least ``TRICLINIC_LINES`` lines) a triclinic one with
    M_N ≥ ``SYMMETRY_MARGIN`` × ``min_m``; otherwise "monoclinic" with ``"indexed": False``.
    Fewer than ``min_lines`` lines (but at least ``few_lines``): a cubic cell that indexes every
    line with M_N ≥ ``min_m`` and predicts few lines the scan does not show
    (:func:`predicts_few_lines`, against the weak lines when given, with the extinction symbol
    :func:`best_extinction` gives the cell), else "monoclinic" with
    ``"indexed": False``.  Fewer than ``cubic_first`` lines: a cubic cell that indexes every
    one with M_N ≥ ``min_m`` is the answer, before any lower system is tried (on so few lines
    the free parameters of a lower cell absorb the lines' errors, and a sub-cell that places
    the same lines, e.g. orthorhombic a, a/√2, a/2 for a primitive cubic a, reaches 2–4 × the
    cubic M_N).  The found cell of a non-orthorhombic system is then counted with its
    system's extinction symbols (:func:`with_extinctions`) to name the space group, and
    ``weak_two_theta`` (degrees, the weak lines of the scan) test those conditions
    (:func:`weak_line_group`; the crystal system is decided before).  A cell whose lattice has
    a higher metric symmetry is answered with that system when its cell indexes as many lines
    (:func:`higher_metric_cell`), or, except for a monoclinic cell, when the lattice is within
    ``METRIC_FREE_DEG`` of it (a triclinic cell: within 1°, :func:`lattice_crystal_system`).
    With ``computed`` (the lines of a computed, noise-free scan: every one the phase's own, no
    impurity among them) a cell of lower symmetry must also index as many lines as the
    higher one it replaces, and the quick filter tries the indices ``COMPUTED_QUICK_MAX_INDEX``
    allows (a rhombohedral cell's up to 8, for a long c).  Returns
    ``{"crystal_system", "indexed", "solution", "space_group", "tried"}`` (``space_group``: the
    most symmetric group the solution's reflection conditions allow; None when unindexed or when
    the lattice's metric symmetry is not the cell's system)."""
    tt = np.sort(np.asarray(two_theta, float))[:n_lines]
    out: dict[str, Any] = {"crystal_system": FALLBACK, "indexed": False, "solution": None,
                           "space_group": None, "tried": {}}
    few = len(tt) < min_lines               # a small cubic cell has few lines: it alone
    if few and len(tt) < min(few_lines, min_lines):
        return out
    if few:
        max_unindexed = 0
    q = q_of_two_theta(tt, wavelength)
    grad = dq_per_degree(tt, wavelength)
    weak = (None if weak_two_theta is None or not len(weak_two_theta)
            else np.asarray(weak_two_theta, float))
    q_weak = None if weak is None else q_of_two_theta(weak, wavelength)
    best: Solution | None = None
    lowest = (("monoclinic", "triclinic") if triclinic and len(tt) >= TRICLINIC_LINES
              else ("monoclinic",))
    for system in (("cubic",) if few else (*SYSTEMS_SEARCHED, *lowest)):
        if system in lowest and best is not None and not (
                monoclinic_check and system == "monoclinic" and best.system == "orthorhombic"):
            break           # monoclinic only when nothing higher indexes or an orthorhombic
                            # cell does (4 parameters fit lines easily: it must beat that
                            # one's M by the margin), triclinic only when nothing at all does
        sol = best_cell(q, grad, system, tol_deg, max_unindexed,
                        quick_max_index=COMPUTED_QUICK_MAX_INDEX if computed
                        else QUICK_MAX_INDEX)
        if sol is None:
            continue
        out["tried"][system] = sol.as_dict()
        if few and not predicts_few_lines(best_extinction(sol, q, grad, tol_deg),
                                          q if q_weak is None else q_weak):
            continue
        if system == "cubic" and len(tt) < cubic_first and sol.indexes(0) and sol.m >= min_m:
            best = sol      # few lines: a lower cell's free parameters absorb their errors
            break
        # a triclinic cell, the freest, is held to the margin a step down in symmetry asks
        floor = min_m * (SYMMETRY_MARGIN if system == "triclinic" else 1.0)
        if sol.indexes(max_unindexed) and sol.m >= floor and (
                best is None or (sol.m > symmetry_margin(best.system, system) * best.m
                                 and (not computed or sol.n_indexed >= best.n_indexed))):
            best = sol
    if best is not None:
        if best.system not in EXTINCTION_DECIDES:     # the extinction symbol of the found cell
            best = best_extinction(best, q, grad, tol_deg)
        metric = metric_cell(best.system, best.lattice, best.cell)
        system = best.system
        if metric[0] != best.system:        # the lattice is metrically of another system
            higher = (None if best.system == "triclinic"
                      else higher_metric_cell(best, q, grad, tol_deg, min_m, metric))
            if higher is not None:          # its cell indexes the lines as well
                best, system = higher, higher.system
            elif best.system == "triclinic" or (best.system != "monoclinic" and metric_deviation(
                    best.system, best.lattice, best.cell) <= METRIC_FREE_DEG):
                system = metric[0]          # Le Page's 1° (triclinic), or within the free band
        if weak is not None:                                        # the space group only
            best = weak_line_group(best, q, grad, q_weak, dq_per_degree(weak, wavelength),
                                   tol_deg)
        solution = best.as_dict()
        out.update(crystal_system=system, indexed=True, solution=solution,
                   space_group=solution["space_group"] if system == best.system else None)
    return out


def index_scan(two_theta: np.ndarray, intensity: np.ndarray, second_look: bool = True,
               **kwargs: Any) -> dict[str, Any]:
    """:func:`index_lines` of the lines :func:`pick_lines` finds in a measured Cu Kα scan (2θ
    degrees, counts), the weak lines (≥ ``WEAK_RELATIVE`` of the strongest, Kβ lines
    dropped) testing the absences; with ``"n_picked"`` (the lines indexed) and ``"lines"``
    added, and ``"computed"``.  A computed scan (:func:`noise_free`, unless ``computed`` is
    given; passed on to :func:`index_lines`) is indexed on its weak lines instead
    (``"lines": "weak"``): a computed pattern's weak lines are the phase's own, with no
    impurity, tube line or noise among them.
    When no cell indexes them and ``second_look``, the lines at the curvature's maxima
    (:func:`pick_lines` with ``curvature``; a computed scan's down to 1 %, as its first look),
    if there are more of them, are indexed too and their answer kept when a cell indexes them
    (``"lines": "curvature"``, else ``"maxima"`` or ``"weak"``)."""
    weak_level = {"relative": WEAK_RELATIVE, "drop_k_beta": True}
    weak, _ = pick_lines(two_theta, intensity, **weak_level)
    computed = kwargs.setdefault("computed", noise_free(intensity))
    level = weak_level if computed else {}          # the lines indexed: a computed scan's weak
    lines = weak if computed else pick_lines(two_theta, intensity)[0]
    out = index_lines(lines, weak_two_theta=weak, **kwargs)
    out.update(n_picked=int(len(lines)), lines="weak" if computed else "maxima")
    if second_look and not out["indexed"]:
        bent, _ = pick_lines(two_theta, intensity, curvature=True, **level)
        if len(bent) > len(lines):
            again = index_lines(bent, weak_two_theta=weak, **kwargs)
            if again["indexed"]:
                out = again
                out.update(n_picked=int(len(bent)), lines="curvature")
    out["computed"] = bool(computed)
    return out


def index_file(path: str | Path, axis: str = "2theta",
               wavelength: str | float | None = None) -> dict[str, Any]:
    """Index one measured scan file (read as ``classify`` reads it): ``{"file",
    "crystal_system", "indexed", "n_picked", "lines", "computed", "solution", "space_group"}``
    (:func:`index_scan`), or ``{"file",
    "error"}`` when the file cannot be read or is not a Cu Kα scan in 2θ (the line picker drops
    Cu Kα2 twins and the cell is computed with Cu Kα1; ``wavelength``: of the measurement,
    None = the file's own or Cu Kα)."""
    def refused(this: str) -> dict[str, Any]:
        return {"file": str(path), "error": f"indexing reads Cu Kα scans in 2θ only (this one: "
                                            f"{this})"}

    if axis != "2theta":
        return refused(axis)
    try:
        scan = load_scan(path, axis, wavelength, CU_KA)
    except PatternError as exc:
        return {"file": str(path), "error": exc.reason}
    if abs(scan.wavelength - CU_KA) > CU_KA_SPREAD:
        return refused(f"{scan.wavelength:g} Å")
    return {"file": str(path), **index_pattern(scan.two_theta, scan.intensity)}


def index_pattern(two_theta: np.ndarray, intensity: np.ndarray) -> dict[str, Any]:
    """Index one pattern given as intensities on a 2θ grid (degrees; e.g. a simulated Cu Kα
    pattern): :func:`index_scan`'s answer as :func:`index_file` records it, without a file."""
    res = index_scan(two_theta, intensity)
    return {key: res[key] for key in ("crystal_system", "indexed", "n_picked", "lines",
                                      "computed", "solution", "space_group")}


def _index_rows(rows: np.ndarray, two_theta: np.ndarray) -> list[dict[str, Any]]:
    """:func:`index_pattern` of each row of ``rows`` (intensities on ``two_theta``)."""
    return [index_pattern(two_theta, row) for row in rows]


def index_patterns(two_theta: np.ndarray, patterns: np.ndarray, n_workers: int = 1,
                   address: str = "", chunk: int = 8) -> list[dict[str, Any]]:
    """Index patterns given as rows of intensities on one 2θ grid (degrees, Cu Kα; e.g.
    simulated test patterns) in ``n_workers`` processes: one record per row, in order, as
    :func:`index_files` gives them (without ``"file"``).  A Cu Kα wavelength other than Kα1
    (pymatgen's weighted Kα) scales every Q alike, so only the cell's size changes."""
    grid = np.asarray(two_theta, float)
    rows = np.asarray(patterns, float)
    if rows.ndim != 2 or rows.shape[1] != len(grid):
        raise ValueError(f"patterns must be (n, {len(grid)}) intensities on the 2θ grid, got "
                         f"{rows.shape}")
    chunks = [rows[i:i + chunk] for i in range(0, len(rows), chunk)]
    parts = map_chunks(_index_rows, chunks, n_workers, address, desc="indexing",
                       unit="pattern", two_theta=grid)
    return [rec for part in parts for rec in part]


def _index_chunk(paths: list[str], wavelength: float) -> list[dict[str, Any]]:
    """:func:`index_file` of each file of ``paths`` (2θ scans at ``wavelength``)."""
    return [index_file(path, "2theta", wavelength) for path in paths]


def index_files(paths: list[str], wavelength: float = CU_KA, n_workers: int = 1,
                address: str = "", chunk: int = 8) -> list[dict[str, Any]]:
    """Index measured Cu Kα scans (files ``classify`` reads) in ``n_workers`` processes
    (:func:`lib.parallel.map_chunks`): one record per file in order, :func:`index_file`'s
    ``{"file", "crystal_system", "indexed", ...}`` or ``{"file", "error"}``."""
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    parts = map_chunks(_index_chunk, chunks, n_workers, address, desc="indexing",
                       unit="pattern", wavelength=wavelength)
    return [rec for part in parts for rec in part]
