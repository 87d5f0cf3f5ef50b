"""Quantities for admission messages: exact values (Fractions) printed the way upstream prints them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kubeplane.machinery.validation.quantity import parse

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def value(text: Any) -> Fraction:
    """A quantity's exact value; anything unparsable counts as zero (validation rejects it elsewhere)."""
    return parse(text) or Fraction(0)


def is_binary(text: Any) -> bool:
    return isinstance(text, str) and text.endswith("i")


def fmt(amount: Fraction, binary: bool = False) -> str:
    """Canonical form, like Go's resource.Quantity.String(): the largest suffix giving an integer."""
    if amount == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount.denominator == 1:
        whole = amount.numerator
        for suffix, size in _BINARY if binary else _DECIMAL:
            if whole % size == 0:
                return f"{sign}{whole // size}{suffix}"
        return f"{sign}{whole}"
    for suffix, scale in (("m", 1000), ("u", 10**6), ("n", 10**9)):
        scaled = amount * scale
        if scaled.denominator == 1:
            return f"{sign}{scaled.numerator}{suffix}"
    return f"{sign}{math.ceil(amount * 10**9)}n"


def resource_list(values: Mapping[str, Fraction], binary: Mapping[str, bool] | None = None) -> str:
    """``a=1,b=2`` sorted by name (upstream's quota.PrettyPrint)."""
    binary = binary or {}
    return ",".join(f"{name}={fmt(values[name], binary.get(name, False))}" for name in sorted(values))
