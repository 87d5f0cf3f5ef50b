"""IntOrString fields that hold a count or a percentage (rolling updates, disruption budgets)."""

from __future__ import annotations

import re
from typing import Any

from kubeplane.machinery.errors import Cause

from . import field as f
from . import names

_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile("^" + _PERCENT_FMT + "$")
PERCENT_MSG = names.regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                                _PERCENT_FMT, "1%", "93%")


def positive_int_or_percent(path: str, value: Any) -> list[Cause]:
    if isinstance(value, str):
        if not _PERCENT_RE.match(value):
            return [f.invalid(path, value, PERCENT_MSG)]
        return []
    return f.nonnegative(path, value)


def not_more_than_100_percent(path: str, value: Any) -> list[Cause]:
    if isinstance(value, str) and _PERCENT_RE.match(value) and int(value[:-1]) > 100:
        return [f.invalid(path, value, "must not be greater than 100%")]
    return []


def is_zero(value: Any) -> bool:
    return value == 0 or (isinstance(value, str) and _PERCENT_RE.match(value) is not None and int(value[:-1]) == 0)
