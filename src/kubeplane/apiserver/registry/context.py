"""What a registry call knows about its request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kubeplane.machinery.validation.decoding import DuplicateFields

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
    # The rest of the authenticated user (upstream's user.Info), for admission.
    user_uid: str = ""
    user_extra: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Undo actions admission registered (a quota charge) to run when the storage write fails.
    admission_undo: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # DELETE admission already ran for this request (a store that wraps Store.delete ran it first).
    delete_admitted: bool = False
    # Annotations admission adds to this request's audit event (PodSecurity's audit-violations, ...).
    audit_annotations: dict[str, str] = field(default_factory=dict)
    # The object written is a create or update request's body, which upstream decodes into typed
    # structs before anything else: a value of the wrong JSON type is then a 400 decoding error,
    # not the 422 a patched or internally built object gets.
    typed_body: bool = False
    # The request body's repeated JSON keys (create/update), which strict decoding reports.
    duplicate_fields: DuplicateFields | None = None
