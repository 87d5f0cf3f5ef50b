"""Kubernetes API errors as ``metav1.Status`` objects.

Every failure the API server returns is one of these, with upstream's HTTP code, ``reason`` and
message shape (k8s.io/apimachinery/pkg/api/errors), so clients that switch on ``reason`` work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Cause:
    """One ``status.details.causes`` entry (usually a field error)."""

    type: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, ...
    message: str
    field: str = ""

    def to_dict(self) -> JSON:
        out: JSON = {"reason": self.type, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class StatusError(Exception):
    """An API error carrying the ``Status`` to send."""

    code: int
    reason: str
    message: str
    group: str = ""
    kind: str = ""
    name: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int = 0
    # ListMeta.continue of the Status (a 410 for an expired continue token offers a new one).
    continue_token: str = ""
    # Upstream's NewGenericServerResponse always sets a details object, empty or not.
    always_details: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_status(self) -> JSON:
        status: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.continue_token} if self.continue_token else {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details: JSON = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        if details or self.always_details:
            status["details"] = details
        return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found',
                       group=group, kind=resource, name=name)


def already_exists(group: str, resource: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists',
                       group=group, kind=resource, name=name)


def conflict(group: str, resource: str, name: str, detail: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
                       group=group, kind=resource, name=name)


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, causes: list[Cause]) -> StatusError:
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return StatusError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {joined}',
                       group=group, kind=kind, name=name, causes=causes)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def resource_expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                       f"accepted media types include: application/json, application/yaml, "
                       f"application/vnd.kubernetes.protobuf (got {content_type})")


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def request_entity_too_large(message: str) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def forbidden(group: str, resource: str, name: str, message: str) -> StatusError:
    target = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return StatusError(403, "Forbidden", f"{target} is forbidden: {message}", group=group, kind=resource,
                       name=name)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def too_many_requests(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, retry_after_seconds=retry_after)


def success_status(group: str, kind: str, name: str, uid: str = "") -> JSON:
    """The ``Status`` returned by DELETE of an object that is gone at once (upstream's shape)."""
    details: JSON = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
