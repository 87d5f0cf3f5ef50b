"""Apply conflicts: which manager owns which field with another value, and upstream's 409."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.managedfields.entries import UPDATE, Entry
from kubeplane.machinery.managedfields.fieldset import FieldSet


@dataclass(frozen=True)
class Conflict:
    manager: Entry
    path: tuple[str, ...]  # FieldsV1 path elements, e.g. ("f:spec", "f:replicas")


class ApplyConflict(Exception):
    """An apply would change fields other managers own (and force was not set)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(conflict_message(conflicts))
        self.conflicts = conflicts

    def to_status(self) -> errors.StatusError:
        """Upstream NewApplyConflict: 409, reason Conflict, one FieldManagerConflict cause per field."""
        err = errors.StatusError(409, "Conflict", str(self))
        err.causes = [Cause("FieldManagerConflict", f"conflict with {describe_manager(c.manager)}",
                            path_string(c.path)) for c in self.conflicts]
        return err


def conflicts_of(entry: Entry, fields: FieldSet) -> list[Conflict]:
    return [Conflict(entry, path) for path in sorted(fields.paths(), key=path_string)]


def _value_string(value: object) -> str:
    return orjson.dumps(value).decode()


def _element_string(element: str) -> str:
    kind, text = element[:2], element[2:]
    if kind == "f:":
        return "." + text
    if kind == "k:":
        keys = orjson.loads(text)
        return "[" + ",".join(f"{name}={_value_string(keys[name])}" for name in sorted(keys)) + "]"
    if kind == "v:":
        return f"[={_value_string(orjson.loads(text))}]"
    return f"[{text}]"


def path_string(path: tuple[str, ...]) -> str:
    """fieldpath.Path.String(): ``.spec.containers[name="app"].image``."""
    return "".join(_element_string(e) for e in path)


def describe_manager(entry: Entry) -> str:
    """Upstream printManager: quoted name, the subresource, and "using <apiVersion>" for updaters."""
    text = orjson.dumps(entry.manager).decode()
    if entry.subresource:
        text += f" with subresource {orjson.dumps(entry.subresource).decode()}"
    if entry.operation == UPDATE:
        text += f" using {entry.api_version}"
    return text


def conflict_message(conflicts: list[Conflict]) -> str:
    if len(conflicts) == 1:
        only = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {describe_manager(only.manager)}: {path_string(only.path)}"
    by_manager: dict[tuple[str, ...], list[Conflict]] = {}
    for conflict in conflicts:
        by_manager.setdefault(conflict.manager.identity, []).append(conflict)
    lines = []
    for identity in sorted(by_manager):
        group = by_manager[identity]
        lines.append(f"conflicts with {describe_manager(group[0].manager)}:")
        lines.extend(f"- {path_string(c.path)}" for c in group)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
