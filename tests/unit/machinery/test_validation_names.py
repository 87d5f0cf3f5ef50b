"""Name/format checks and quantity parsing, plus a robustness property over arbitrary JSON."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplane.machinery import defaults, validation
from kubeplane.machinery.validation import names, quantity


@pytest.mark.parametrize(("value", "ok"), [("a", True), ("a-1", True), ("-a", False), ("a" * 64, False), ("A", False)])
def test_dns1123_label(value: str, ok: bool) -> None:
    assert (names.dns1123_label(value) == []) == ok


def test_dns1123_label_too_long_reports_length() -> None:
    assert names.dns1123_label("a" * 64) == ["must be no more than 63 characters"]


@pytest.mark.parametrize(("value", "ok"), [("a.b", True), ("a..b", False), ("a_b", False), ("x" * 254, False)])
def test_dns1123_subdomain(value: str, ok: bool) -> None:
    assert (names.dns1123_subdomain(value) == []) == ok


@pytest.mark.parametrize(("value", "errors"), [
    ("http", []),
    ("a" * 16, ["must be no more than 15 characters"]),
    ("80", ["must contain at least one letter (a-z)"]),
    ("a--b", ["must not contain consecutive hyphens"]),
    ("-ab", ["must not begin or end with a hyphen"]),
    ("HTTP", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
              "must contain at least one letter (a-z)"]),
])
def test_port_names(value: str, errors: list[str]) -> None:
    assert names.port_name(value) == errors


@pytest.mark.parametrize(("value", "ok"), [("", True), ("a.b_c-d", True), ("-a", False), ("a" * 64, False)])
def test_label_values(value: str, ok: bool) -> None:
    assert (names.label_value(value) == []) == ok


def test_generate_name_prefix_mask() -> None:
    assert names.mask_trailing_dash("web-") == "weba"
    assert names.mask_trailing_dash("-") == "-"


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Fraction(1, 10)), ("1Ki", Fraction(1024)), ("1.5Gi", Fraction(3 * 2**29)), ("2e3", Fraction(2000)),
    ("1E-3", Fraction(1, 1000)), ("5", Fraction(5)), (3, Fraction(3)), ("0.5", Fraction(1, 2)),
])
def test_quantity_values(text: Any, value: Fraction) -> None:
    assert quantity.parse(text) == value


def test_quantity_comparison_is_exact() -> None:
    assert quantity.parse("1000m") == quantity.parse("1")
    gibi, giga = quantity.parse("1Gi"), quantity.parse("1G")
    assert gibi is not None and giga is not None and gibi > giga


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
_fields = st.sampled_from(["containers", "volumes", "restartPolicy", "tolerations", "initContainers",
                           "securityContext", "dnsPolicy", "activeDeadlineSeconds", "nodeSelector"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=_fields, value=_json)
def test_arbitrary_json_never_crashes(field: str, value: Any) -> None:
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
                           "spec": {"containers": [{"name": "c", "image": "x"}], field: value}}
    defaults.apply("", "v1", "Pod", pod)
    causes = validation.validate_create("", "v1", "Pod", pod)
    assert all(c.message for c in causes)
    assert isinstance(validation.validate_update("", "v1", "Pod", pod, pod), list)
