"""Field management (``metadata.managedFields``) with structured-merge-diff semantics.

- ``update_managed_fields``: ownership for create / update / patch (operation "Update");
  ``tracked_by_apply`` marks a write whose entries server-side apply (``machinery.apply``) made.
- ``field_set`` and ``FieldSet``: the set algebra server-side apply builds on.
- entry helpers: manager names from ``?fieldManager`` / User-Agent, validation, reset detection.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.managedfields.entries import (
    ANCIENT_CHANGES,
    MAX_UPDATE_ENTRIES,
    Entry,
    ManagedFieldsError,
    decode,
    field_manager_errors,
    format_time,
    is_reset,
    managed_fields_errors,
    manager_from_user_agent,
    request_manager,
)
from kubeplane.machinery.managedfields.fieldset import FieldSet, FieldsV1Error
from kubeplane.machinery.managedfields.shapes import shape_of
from kubeplane.machinery.managedfields.update import (
    default_reset_paths,
    tracked_by_apply,
    update_managed_fields,
)
from kubeplane.machinery.managedfields.walk import Comparison, ShapeMismatch, compare
from kubeplane.machinery.managedfields.walk import field_set as _field_set_of_shape
from kubeplane.machinery.schema import Schemas


def field_set(schemas: Schemas, node: dict[str, Any], obj: Any) -> FieldSet:
    """The fields ``obj`` sets under schema ``node`` (upstream ToFieldSet), e.g. an apply config's."""
    return _field_set_of_shape(shape_of(schemas, node), obj)


def compare_objects(schemas: Schemas, node: dict[str, Any], old: Any, new: Any) -> Comparison:
    """Added / modified / removed fields between two versions of an object."""
    return compare(shape_of(schemas, node), old, new)


__all__ = [
    "ANCIENT_CHANGES",
    "MAX_UPDATE_ENTRIES",
    "Comparison",
    "Entry",
    "FieldSet",
    "FieldsV1Error",
    "ManagedFieldsError",
    "ShapeMismatch",
    "compare_objects",
    "decode",
    "default_reset_paths",
    "field_manager_errors",
    "field_set",
    "format_time",
    "is_reset",
    "managed_fields_errors",
    "manager_from_user_agent",
    "request_manager",
    "tracked_by_apply",
    "update_managed_fields",
]
