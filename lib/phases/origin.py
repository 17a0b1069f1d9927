"""Origin fixing of P-1: three strong reflections made positive.

The 8 inversion centres p/2 (p ∈ {0, 1}³) of P-1 are equally good origins: moving the origin
by p/2 multiplies the sign of reflection h by (−1)^(h·p) and leaves every intensity unchanged
(:func:`lib.phases.reflections.origin_shift_signs`).  A sign is therefore only defined once
an origin is chosen.  The classical choice fixes the signs of three reflections whose parity
classes h mod 2 are linearly independent over GF(2): for any signs s₁, s₂, s₃ there is then
exactly one p with s_i (−1)^(h_i·p) = +1 for i = 1, 2, 3 (the 3×3 system h_i·p ≡ b_i mod 2 is
invertible).  :func:`fix_origin` picks the three strongest such reflections by |E| (a choice
that depends on the intensities only, so it is the same for every origin of the structure),
applies that shift, and returns the reflections' identity and the shift; :func:`undo_origin_fix`
applies the same shift again (it is its own inverse).  After fixing, the signs are identical
for all 8 origin choices of a structure: plain per-reflection targets have one right answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reflections import origin_shift_parities, shift_origin


def parity_class(hkl: np.ndarray) -> np.ndarray:
    """Parity class h mod 2 of each reflection, shape (n, 3), values 0/1 (int8)."""
    return (np.asarray(hkl, dtype=np.int64) % 2).astype(np.int8)


def gf2_rank(vectors: np.ndarray) -> int:
    """Rank over GF(2) of the rows of a 0/1 integer matrix."""
    rows = [int("".join(str(int(v) & 1) for v in row), 2) for row in np.atleast_2d(vectors)]
    rank = 0
    while rows:
        pivot = max(rows)
        rows.remove(pivot)
        if pivot == 0:
            continue
        rank += 1
        top = pivot.bit_length() - 1
        rows = [r ^ pivot if (r >> top) & 1 else r for r in rows]
    return rank


def choose_origin_reflections(e_abs: np.ndarray, hkl: np.ndarray,
                              mask: np.ndarray | None = None) -> np.ndarray:
    """Positions (3,) of the origin-fixing reflections of one structure: going down the
    reflections by decreasing |E| (ties by position), keep each whose parity class is linearly
    independent (GF(2)) of those kept, until three are kept.  Seminvariants (all indices even)
    never qualify.  ``mask`` (True = present) excludes missing reflections (NaN |E| are
    excluded too).  Raises ``ValueError`` when the present reflections span fewer than 3
    independent parity classes."""
    e = np.asarray(e_abs, dtype=np.float64)
    present = np.isfinite(e) if mask is None else (np.asarray(mask, bool) & np.isfinite(e))
    parity = parity_class(hkl)
    order = np.lexsort((np.arange(e.size), -np.where(present, e, -np.inf)))
    chosen: list[int] = []
    for i in order:
        if not present[i]:
            break
        candidate = parity[chosen + [int(i)]]
        if gf2_rank(candidate) == len(chosen) + 1:
            chosen.append(int(i))
            if len(chosen) == 3:
                return np.array(chosen, dtype=np.int64)
    raise ValueError(f"only {len(chosen)} reflections with linearly independent parity "
                     f"classes among the {int(present.sum())} present: cannot fix the origin")


def origin_fixing_parity(signs_at: np.ndarray, hkl_at: np.ndarray) -> np.ndarray:
    """The origin shift p ∈ {0, 1}³ that makes the three signs ``signs_at`` (±1) of
    reflections ``hkl_at`` (3, 3) all +: the unique solution of h_i·p ≡ (1 − s_i)/2 mod 2."""
    signs_at = np.asarray(signs_at)
    factors = 1 - 2 * ((origin_shift_parities() @ np.asarray(hkl_at, np.int64).T) % 2)
    ok = np.all(factors * signs_at[None, :] > 0, axis=1)
    if ok.sum() != 1:
        raise ValueError(f"reflections {np.asarray(hkl_at).tolist()} do not fix the origin "
                         f"(parity classes not linearly independent)")
    return origin_shift_parities()[int(np.argmax(ok))]


@dataclass
class OriginFix:
    """Signs of one structure after origin fixing: ``signs`` (±1, the origin moved by
    ``parity``/2), ``reflections`` the positions (3,) of the origin-fixing reflections in the
    index set, ``hkl`` their indices (3, 3)."""

    signs: np.ndarray
    reflections: np.ndarray
    hkl: np.ndarray
    parity: np.ndarray


def fix_origin(signs: np.ndarray, hkl: np.ndarray, e_abs: np.ndarray,
               mask: np.ndarray | None = None) -> OriginFix:
    """Move the origin of one structure so that its three origin-fixing reflections
    (:func:`choose_origin_reflections`, by |E| ``e_abs``) have sign +.  ``signs``: ±1 on
    ``hkl`` (masked entries are shifted too; their value is meaningless)."""
    chosen = choose_origin_reflections(e_abs, hkl, mask)
    hkl = np.asarray(hkl)
    signs = np.asarray(signs)
    parity = origin_fixing_parity(signs[chosen], hkl[chosen])
    return OriginFix(signs=shift_origin(signs, hkl, parity), reflections=chosen,
                     hkl=hkl[chosen].copy(), parity=parity)


def undo_origin_fix(fixed_signs: np.ndarray, hkl: np.ndarray, parity: np.ndarray) -> np.ndarray:
    """Signs at the original origin from origin-fixed signs (the shift by ``parity``/2 is its
    own inverse)."""
    return shift_origin(fixed_signs, hkl, parity)


def fix_origin_batch(signs: np.ndarray, hkl: np.ndarray, e_abs: np.ndarray,
                     mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fix_origin` of every structure (row): returns the fixed signs (n_structures, n),
    the origin-fixing reflection positions (n_structures, 3) and the shifts (n_structures, 3)."""
    signs = np.asarray(signs)
    out = np.empty_like(signs)
    chosen = np.empty((signs.shape[0], 3), dtype=np.int64)
    parities = np.empty((signs.shape[0], 3), dtype=np.int32)
    for i in range(signs.shape[0]):
        fix = fix_origin(signs[i], hkl, e_abs[i], None if mask is None else mask[i])
        out[i], chosen[i], parities[i] = fix.signs, fix.reflections, fix.parity
    return out, chosen, parities
