"""What a CustomResourceDefinition says, read from its JSON: names, versions, conditions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

NAMES_ACCEPTED = "NamesAccepted"
ESTABLISHED = "Established"
TERMINATING = "Terminating"

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in Kubernetes order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo."""
    match = _VERSION_RE.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


@dataclass(frozen=True)
class Names:
    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...]

    @classmethod
    def of(cls, names: Any) -> Names:
        names = names if isinstance(names, dict) else {}
        kind = str(names.get("kind") or "")
        return cls(
            plural=str(names.get("plural") or ""),
            singular=str(names.get("singular") or kind.lower()),
            kind=kind,
            list_kind=str(names.get("listKind") or (kind + "List" if kind else "")),
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
        )

    def to_json(self) -> JSON:
        out: JSON = {"plural": self.plural, "singular": self.singular, "kind": self.kind,
                     "listKind": self.list_kind}
        if self.short_names:
            out["shortNames"] = list(self.short_names)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


def spec(crd: JSON) -> JSON:
    value = crd.get("spec")
    return value if isinstance(value, dict) else {}


def versions(crd: JSON) -> list[JSON]:
    return [v for v in spec(crd).get("versions") or () if isinstance(v, dict)]


def storage_version(crd: JSON) -> JSON | None:
    return next((v for v in versions(crd) if v.get("storage")), None)


def served_versions(crd: JSON) -> list[JSON]:
    served = [v for v in versions(crd) if v.get("served")]
    return sorted(served, key=lambda v: version_priority(str(v.get("name", ""))))


def open_api_schema(version: JSON) -> JSON | None:
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    return schema if isinstance(schema, dict) else None


def conditions(crd: JSON) -> list[JSON]:
    return list((crd.get("status") or {}).get("conditions") or ())


def condition(crd: JSON, kind: str) -> JSON | None:
    return next((c for c in conditions(crd) if c.get("type") == kind), None)


def is_true(crd: JSON, kind: str) -> bool:
    found = condition(crd, kind)
    return found is not None and found.get("status") == "True"


def accepted_names(crd: JSON) -> Names | None:
    accepted = (crd.get("status") or {}).get("acceptedNames")
    return Names.of(accepted) if isinstance(accepted, dict) and accepted.get("plural") else None
