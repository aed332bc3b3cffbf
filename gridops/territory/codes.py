"""Area code shapes: digits of an exact length per level, each code extending its parent's.

Codes follow GB/T 2260 for the administrative levels (6 digits) and add 3 digits per level
below (subdistrict, community, unit grid: 9, 12, 15 digits). Cities number differently, so
only the shape is checked, never one city's numbering.
"""

from __future__ import annotations

#: Length of a GB/T 2260 administrative code (province, prefecture, county).
ADMINISTRATIVE_CODE_LENGTH = 6


def code_shape_problem(code: str, code_length: int | None) -> str | None:
    """Why ``code`` does not fit a level whose codes have ``code_length`` digits, or None."""
    if not code.isascii() or not code.isdigit():
        return f"code {code!r} must contain only digits"
    if code_length is not None and len(code) != code_length:
        return f"code {code!r} has {len(code)} digits, its level needs {code_length}"
    return None


def significant_prefix(code: str) -> str:
    """The part of a code its children extend: a 6-digit code loses trailing "00" pairs.

    The prefecture 411300 is extended by its districts 4113xx, the province 410000 by its
    prefectures 41xx00; codes of other lengths are extended whole.
    """
    if len(code) != ADMINISTRATIVE_CODE_LENGTH:
        return code
    prefix = code
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def extends_parent_code(code: str, parent_code: str) -> bool:
    """True when ``code`` starts with its parent's significant prefix and is a distinct code."""
    return code != parent_code and code.startswith(significant_prefix(parent_code))
