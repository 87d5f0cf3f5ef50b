"""Resource quantities (``resource.Quantity``): exact parsing, addition and upstream's canonical
form, so a summed usage prints as kubectl would show it ("1500m", "3Gi", "2k").

A sum keeps the format (binary or decimal suffixes) of its first term, as upstream's ``Add`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIX_BY_EXPONENT = {e: s for s, e in DECIMAL.items()}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    binary: bool = False

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.binary)

    def __str__(self) -> str:
        return canonical(self.value, self.binary)


ZERO = Quantity(Fraction(0))


def parse_quantity(text: str | int | float) -> Quantity:
    if isinstance(text, int | float):
        return Quantity(Fraction(text))
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in BINARY:
        return Quantity(number * BINARY[suffix], binary=True)
    if suffix in DECIMAL:
        return Quantity(number * Fraction(10) ** DECIMAL[suffix])
    return Quantity(number * Fraction(10) ** int(suffix[1:]))


def canonical(value: Fraction, binary: bool) -> str:
    """Upstream's CanonicalizeBytes: binary suffixes for whole numbers of at least 1024, else the
    decimal suffix (exponent a multiple of 3) that leaves an integer mantissa, rounded up to nano."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if binary and magnitude >= 1024 and magnitude.denominator == 1:
        whole = int(magnitude)
        for suffix in reversed(BINARY):
            if whole % BINARY[suffix] == 0:
                return f"{sign}{whole // BINARY[suffix]}{suffix}"
    nanos = -(-magnitude * 10**9 // 1)  # ceiling at nano precision, as upstream rounds up
    exponent = -9
    while exponent < 18 and nanos % 1000 == 0:
        nanos //= 1000
        exponent += 3
    return f"{sign}{nanos}{_SUFFIX_BY_EXPONENT[exponent]}"


def add_into(totals: dict[str, Quantity], name: str, amount: Quantity) -> None:
    totals[name] = totals[name] + amount if name in totals else amount
