"""Name and format checks returning upstream's messages (k8s.io/apimachinery/pkg/util/validation).

Each check returns a list of messages (empty when valid), like upstream's ``IsXxx`` functions, so
callers wrap them in ``Invalid`` causes with whatever path and value they report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from kubeplane.machinery import labels

DNS1123_LABEL_MAX = 63
DNS1035_LABEL_MAX = 63
CONFIG_KEY_MAX = 253

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_ENV_STRICT_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")
_HAS_LETTER = re.compile("[a-z]")


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile("^" + fmt + "$")


_LABEL_RE = _full(_LABEL_FMT)
_DNS1035_RE = _full(_DNS1035_FMT)
_CONFIG_KEY_RE = _full(_CONFIG_KEY_FMT)
_ENV_STRICT_RE = _full(_ENV_STRICT_FMT)

regex_error = labels.regex_error
max_len = labels.max_len_error


def _remembered(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """``check`` with its answers kept for the most recent strings: every write re-checks the same
    label keys, annotation keys and names (a pod create checks ~15), and the checks are pure.
    Callers get a fresh list each time, so they may extend it."""
    answers = functools.lru_cache(maxsize=4096)(lambda value: tuple(check(value)))

    @functools.wraps(check)
    def remembered(value: str) -> list[str]:
        if type(value) is not str:
            return check(value)
        answer = answers(value)
        return list(answer) if answer else []  # [] is cheaper than list(()); most values pass

    return remembered


# Label keys/values and DNS subdomains are shared with label selectors; one implementation serves both.
qualified_name = _remembered(labels.is_qualified_name)
label_value = _remembered(labels.is_valid_label_value)
dns1123_subdomain = _remembered(labels.is_dns1123_subdomain)


DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                     "with an alphabetic character, and end with an alphanumeric character")
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
ENV_RELAXED_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
ENV_STRICT_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', "
                  "'-', or '.', and must not start with a digit")


@_remembered
def dns1123_label(value: str) -> list[str]:
    errs = [max_len(DNS1123_LABEL_MAX)] if len(value) > DNS1123_LABEL_MAX else []
    if not _LABEL_RE.match(value):
        errs.append(regex_error(DNS1123_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc"))
    return errs


@_remembered
def dns1035_label(value: str) -> list[str]:
    errs = [max_len(DNS1035_LABEL_MAX)] if len(value) > DNS1035_LABEL_MAX else []
    if not _DNS1035_RE.match(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def path_segment(value: str) -> list[str]:
    """Names that only have to be safe in a URL path (RBAC roles and bindings, ...)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def config_map_key(value: str) -> list[str]:
    errs = [max_len(CONFIG_KEY_MAX)] if len(value) > CONFIG_KEY_MAX else []
    if not _CONFIG_KEY_RE.match(value):
        errs.append(regex_error(CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def env_var_name(value: str, relaxed: bool) -> list[str]:
    """Relaxed (1.34+): any printable ASCII but '='; before, a C-identifier-like name."""
    if type(value) is not str:
        return _env_var_name(value, relaxed)
    answer = _env_var_name_remembered(value, relaxed)
    return list(answer) if answer else []


@functools.lru_cache(maxsize=4096)
def _env_var_name_remembered(value: str, relaxed: bool) -> tuple[str, ...]:
    return tuple(_env_var_name(value, relaxed))


def _env_var_name(value: str, relaxed: bool) -> list[str]:
    if relaxed:
        ok = bool(value) and all(" " <= c <= "~" and c != "=" for c in value)
        return [] if ok else [ENV_RELAXED_MSG]
    errs = [] if _ENV_STRICT_RE.match(value) else [
        regex_error(ENV_STRICT_MSG, _ENV_STRICT_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1")]
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


@_remembered
def port_name(value: str) -> list[str]:
    """IANA service names, as container and service port names must be."""
    errs = []
    if len(value) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER.search(value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def mask_trailing_dash(value: str) -> str:
    """generateName prefixes may end in '-': check them as if a suffix followed."""
    return value[:-1] + "a" if len(value) > 1 and value.endswith("-") else value
