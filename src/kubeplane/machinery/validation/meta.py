"""ObjectMeta rules shared by every kind (upstream apimachinery ValidateObjectMeta[Update])."""

from __future__ import annotations

from collections.abc import Callable

from kubeplane.machinery.errors import Cause

from . import field as f
from . import names
from ._access import JSON, lst, obj, str_map, text

NameCheck = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_labels(path: str, values: dict[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    for k, v in values.items():
        # The checks are remembered and nearly always pass: wrap messages only when there are some.
        key_errors = names.qualified_name(k)
        if key_errors:
            causes += f.invalid_all(path, k, key_errors)
        value_errors = names.label_value(v)
        if value_errors:
            causes += f.invalid_all(path, v, value_errors)
    return causes


def validate_annotations(path: str, values: dict[str, str]) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for k, v in values.items():
        # Annotation keys are checked case-insensitively, as upstream lowercases them first.
        key_errors = names.qualified_name(k.lower())
        if key_errors:
            causes += f.invalid_all(path, k, key_errors)
        total += len(k.encode()) + len(v.encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(f.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _finalizers(path: str, meta: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for value in lst(meta, "finalizers"):
        if isinstance(value, str):
            causes += f.invalid_all(path, value, names.qualified_name(value))
    return causes


def _labels_annotations_finalizers(meta: JSON) -> list[Cause]:
    return (validate_labels("metadata.labels", str_map(meta, "labels"))
            + validate_annotations("metadata.annotations", str_map(meta, "annotations"))
            + _finalizers("metadata.finalizers", meta))


def validate(obj_: JSON, name_check: NameCheck, namespaced: bool | None) -> list[Cause]:
    """``namespaced`` None means unknown scope: only the format of a given namespace is checked."""
    meta = obj(obj_, "metadata")
    causes: list[Cause] = []
    generate_name = text(meta, "generateName")
    if generate_name:
        causes += f.invalid_all("metadata.generateName", generate_name,
                                name_check(names.mask_trailing_dash(generate_name)))
    name = text(meta, "name")
    if name:
        causes += f.invalid_all("metadata.name", name, name_check(name))
    elif not generate_name:
        causes.append(f.required("metadata.name", "name or generateName is required"))
    namespace = text(meta, "namespace")
    if namespace:
        if namespaced is False:
            causes.append(f.forbidden("metadata.namespace", "not allowed on this type"))
        else:
            causes += f.invalid_all("metadata.namespace", namespace, names.dns1123_label(namespace))
    elif namespaced:
        causes.append(f.required("metadata.namespace"))
    causes += f.nonnegative("metadata.generation", meta.get("generation"))
    causes += _labels_annotations_finalizers(meta)
    return causes


def validate_update(new: JSON, old: JSON) -> list[Cause]:
    new_meta, old_meta = obj(new, "metadata"), obj(old, "metadata")
    causes: list[Cause] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        old_value = old_meta.get(key)
        if old_value not in (None, ""):
            causes += f.immutable(f.child("metadata", key), new_meta.get(key), old_value)
    causes += f.nonnegative("metadata.generation", new_meta.get("generation"))
    if old_meta.get("deletionTimestamp"):
        added = [x for x in lst(new_meta, "finalizers") if x not in lst(old_meta, "finalizers")]
        if added:
            causes.append(f.forbidden("metadata.finalizers",
                                      "no new finalizers can be added if the object is being deleted, "
                                      f"found new finalizers {f.go_value(added)}"))
    causes += _labels_annotations_finalizers(new_meta)
    return causes
