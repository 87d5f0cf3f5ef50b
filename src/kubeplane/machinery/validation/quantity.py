"""Resource quantity syntax (``100m``, ``1Gi``, ``1e3``), parsed exactly for comparisons.

A local parser keeps validation free of other packages; it returns a ``Fraction`` so that limits
and requests compare exactly (``1000m == 1``) without float rounding.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import Any

QUANTITY_FORMAT_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

_QUANTITY_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_EXPONENT_RE = re.compile(r"^[eE]([+-]?[0-9]+)$")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}


def parse(value: Any) -> Fraction | None:
    """The quantity's value, or None when it is not a valid quantity (string or JSON number)."""
    if isinstance(value, str):  # the usual case first: quantities are nearly always strings
        return _parse_text(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Fraction(value)
    return None


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Fraction | None:
    # Every pod repeats a handful of quantities ("100m", "64Mi"); Fraction arithmetic is slow.
    match = _QUANTITY_RE.match(value)
    if match is None:
        return None
    number, suffix = match.groups()
    base = Fraction(number)
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    exponent = _EXPONENT_RE.match(suffix)
    if exponent is not None:
        return base * Fraction(10) ** int(exponent.group(1))
    return None


def is_valid(value: Any) -> bool:
    return parse(value) is not None
