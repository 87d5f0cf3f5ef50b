"""What a registry call knows about its request."""

from __future__ import annotations

from dataclasses import dataclass, field

# fieldValidation query values
FIELD_VALIDATION_STRICT = "Strict"
FIELD_VALIDATION_WARN = "Warn"
FIELD_VALIDATION_IGNORE = "Ignore"


@dataclass
class RequestContext:
    namespace: str = ""
    user: str = ""
    groups: tuple[str, ...] = ()
    dry_run: bool = False
    field_validation: str = FIELD_VALIDATION_WARN
    field_manager: str = ""
    user_agent: str = ""
    subresource: str = ""
    # Warnings to return as ``Warning: 299 - "..."`` headers.
    warnings: list[str] = field(default_factory=list)
