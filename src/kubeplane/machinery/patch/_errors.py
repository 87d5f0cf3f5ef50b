"""Errors raised while applying patches, with the codes kube-apiserver's patch handler gives them."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.errors import StatusError, bad_request

# The fixed text of errors.NewGenericServerResponse(422, ...): upstream drops the underlying reason.
REJECTED_MESSAGE = "the server rejected our request due to an error in our request"


def rejected() -> StatusError:
    """422 Invalid, as upstream answers a JSON patch that does not apply (failed test, bad path, ...)."""
    return StatusError(422, "Invalid", REJECTED_MESSAGE, always_details=True)


def bad_patch(message: str) -> StatusError:
    """400 BadRequest: the patch document itself is malformed."""
    return bad_request(message)


def merge_failure(message: str) -> StatusError:
    """A strategic-merge failure upstream does not classify: it surfaces as a bare 500 (reason unknown)."""
    return StatusError(500, "", message)


def go_repr(value: Any) -> str:
    """Render a decoded JSON value the way Go's ``%v`` prints it, for messages that embed patch content."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def go_type(value: Any) -> str:
    """Go's name for the dynamic type of a decoded JSON value (used in type-mismatch messages)."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"
