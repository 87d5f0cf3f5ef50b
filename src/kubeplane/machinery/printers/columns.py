"""Column definitions of ``meta.k8s.io/v1`` Tables.

Upstream takes most column descriptions from the Go types' swagger docs; the same text ships in
the OpenAPI schemas, so a column may name a schema property (``Doc``) instead of repeating it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery.schema import available_minors, definitions

_API_PREFIX = "io.k8s.api."
_META_PREFIX = "io.k8s.apimachinery.pkg.apis."


@dataclass(frozen=True)
class Doc:
    """A schema property whose description is the column's, e.g. ``Doc("core.v1.PodStatus", "podIP")``."""

    definition: str
    field: str


@functools.cache
def describe(doc: Doc) -> str:
    # Descriptions barely move between minors; the newest shipped one is as good as any.
    defs = definitions(available_minors()[-1])
    for prefix in (_API_PREFIX, _META_PREFIX):
        node = defs.get(prefix + doc.definition)
        if node is not None:
            prop = node.get("properties", {}).get(doc.field, {})
            description: str = prop.get("description", "")
            return description
    return ""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | Doc
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        description = self.description if isinstance(self.description, str) else describe(self.description)
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": description,
            "priority": self.priority,
        }


def string(name: str, description: str | Doc, *, wide: bool = False) -> Column:
    return Column(name, "string", description, priority=1 if wide else 0)


def integer(name: str, description: str | Doc, *, wide: bool = False) -> Column:
    return Column(name, "integer", description, priority=1 if wide else 0)


def boolean(name: str, description: str | Doc, *, wide: bool = False) -> Column:
    return Column(name, "boolean", description, priority=1 if wide else 0)


NAME = Column("Name", "string", Doc("meta.v1.ObjectMeta", "name"), format="name")
AGE = string("Age", Doc("meta.v1.ObjectMeta", "creationTimestamp"))
CREATED_AT = Column("Created At", "date", Doc("meta.v1.ObjectMeta", "creationTimestamp"))
CONTAINERS_WIDE = string("Containers", "Names of each container in the template.", wide=True)
IMAGES_WIDE = string("Images", "Images referenced by each container in the template.", wide=True)


def selector_wide(doc: Doc) -> Column:
    return string("Selector", doc, wide=True)
