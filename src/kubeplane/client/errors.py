"""Typed client errors decoded from the ``Status`` the API server returns.

Callers switch on the class (``except NotFound``) the way client-go callers use
``apierrors.IsNotFound``: the class is chosen by ``reason`` first and by HTTP code when the
reason is missing or unknown, as upstream's helpers do.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A failed API request: the HTTP code, the Status ``reason`` and the whole Status dict."""

    def __init__(self, code: int, reason: str, message: str, status: JSON | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"({code} {reason}) {message}" if reason else f"({code}) {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status: JSON = status or {}
        self.retry_after = retry_after

    @property
    def details(self) -> JSON:
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class MethodNotAllowed(ApiError):
    pass


class Conflict(ApiError):
    pass


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists (a Conflict to HTTP, but callers treat it apart)."""


class Gone(ApiError):
    pass


class Expired(Gone):
    """410 Expired: the requested resourceVersion (or continue token) is too old: relist."""


class Invalid(ApiError):
    @property
    def causes(self) -> list[JSON]:
        causes = self.details.get("causes")
        return causes if isinstance(causes, list) else []


class TooManyRequests(ApiError):
    pass


class InternalError(ApiError):
    pass


class ServerTimeout(ApiError):
    """The server could not finish in time (500 ServerTimeout or 504 Timeout); safe to retry."""


class ServiceUnavailable(ApiError):
    pass


BY_REASON: dict[str, type[ApiError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "Conflict": Conflict,
    "AlreadyExists": AlreadyExists,
    "Gone": Gone,
    "Expired": Expired,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServerTimeout": ServerTimeout,
    "Timeout": ServerTimeout,
    "ServiceUnavailable": ServiceUnavailable,
}

BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 410: Gone, 422: Invalid, 429: TooManyRequests, 500: InternalError,
    503: ServiceUnavailable, 504: ServerTimeout,
}


def error_from_status(code: int, status: JSON | None, text: str = "",
                      retry_after: float | None = None) -> ApiError:
    """Build the typed error for an HTTP failure; ``status`` is the decoded body when it is a Status."""
    status = status if isinstance(status, dict) and status.get("kind") == "Status" else None
    reason = str(status.get("reason", "")) if status else ""
    message = str(status.get("message", "")) if status else text.strip()[:500]
    if status and not code:
        code = int(status.get("code") or 0)
    cls = BY_REASON.get(reason) or BY_CODE.get(code) or ApiError
    if retry_after is None and status:
        seconds = (status.get("details") or {}).get("retryAfterSeconds")
        retry_after = float(seconds) if seconds else None
    return cls(code, reason, message or f"HTTP {code}", status, retry_after)
