"""Where the RBAC objects come from: a narrow, synchronous read interface over a snapshot that the API
server keeps fresh from its watch cache (authorization sits on every request, so it must not wait)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

JSON = dict[str, Any]


class RBACSource(Protocol):
    def cluster_roles(self) -> list[JSON]: ...

    def cluster_role_bindings(self) -> list[JSON]: ...

    def roles(self, namespace: str) -> list[JSON]: ...

    def role_bindings(self, namespace: str) -> list[JSON]: ...

    def cluster_role(self, name: str) -> JSON | None: ...

    def role(self, namespace: str, name: str) -> JSON | None: ...


def _name(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _namespace(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("namespace", ""))


class InMemoryRBACSource:
    """An RBACSource over plain lists; ``put``/``delete`` let a watch handler keep it current."""

    _KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")

    def __init__(self, objects: Iterable[JSON] = ()) -> None:
        self._objects: dict[str, dict[tuple[str, str], JSON]] = {kind: {} for kind in self._KINDS}
        for obj in objects:
            self.put(obj)

    def put(self, obj: JSON) -> None:
        self._objects[obj["kind"]][(_namespace(obj), _name(obj))] = obj

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self._objects[kind].pop((namespace, name), None)

    def _in(self, kind: str, namespace: str) -> list[JSON]:
        return [obj for (ns, _), obj in self._objects[kind].items() if ns == namespace]

    def cluster_roles(self) -> list[JSON]:
        return self._in("ClusterRole", "")

    def cluster_role_bindings(self) -> list[JSON]:
        return self._in("ClusterRoleBinding", "")

    def roles(self, namespace: str) -> list[JSON]:
        return self._in("Role", namespace)

    def role_bindings(self, namespace: str) -> list[JSON]:
        return self._in("RoleBinding", namespace)

    def cluster_role(self, name: str) -> JSON | None:
        return self._objects["ClusterRole"].get(("", name))

    def role(self, namespace: str, name: str) -> JSON | None:
        return self._objects["Role"].get((namespace, name))
