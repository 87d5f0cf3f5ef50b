"""What an admission plugin sees of one request (upstream's admission.Attributes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplane.catalog import ResourceInfo
from kubeplane.machinery import errors
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"
CONNECT = "CONNECT"


@dataclass
class User:
    """The requesting user (upstream's user.Info)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass
class Attributes:
    operation: str
    resource: ResourceInfo
    namespace: str
    name: str
    # The incoming object (None for DELETE); mutating plugins change it in place.
    object: JSON | None
    # The stored object for UPDATE and DELETE.
    old_object: JSON | None
    user: User
    subresource: str = ""
    dry_run: bool = False
    # CreateOptions / UpdateOptions / DeleteOptions as webhooks receive them.
    options: JSON | None = None
    # Warning headers for the response (shared with the request context).
    warnings: list[str] = field(default_factory=list)
    # Undo actions to run if the storage write fails (shared with the request context).
    undo: list[Any] = field(default_factory=list)
    # Re-apply the resource's defaults after an external mutation (webhook patches).
    redefault: Callable[[JSON], None] | None = None
    # Annotations for the request's audit event (upstream's AddAnnotation), e.g. PodSecurity's.
    audit_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.resource.group

    @property
    def kind(self) -> str:
        return self.resource.kind

    def is_resource(self, group: str, resource: str) -> bool:
        return self.resource.group == group and self.resource.resource == resource

    def is_main(self, group: str, resource: str) -> bool:
        """The resource itself, not one of its subresources (what most plugins act on)."""
        return self.is_resource(group, resource) and not self.subresource

    def forbidden(self, message: str) -> StatusError:
        """Upstream's admission.NewForbidden: ``<resource> "<name>" is forbidden: <message>``."""
        return errors.forbidden(self.resource.group, self.resource.resource, self.name, message)


def invalid(attrs: Attributes, causes: list[errors.Cause]) -> StatusError:
    return errors.invalid(attrs.resource.group, attrs.resource.kind, attrs.name, causes)
