"""Validation of built-in kinds with upstream's field errors.

Entry points (the API server calls defaults first, then these):

- ``validate_create(group, version, kind, obj)`` / ``validate_update(group, version, kind, new, old)``
  return ``Cause`` lists; an empty list means valid. Each cause's ``message`` is upstream's
  ``ErrorBody()`` and ``field`` its path, ready for ``errors.invalid(...)`` (422).
- ``unknown_fields(group, version, kind, obj)`` returns paths such as ``spec.foo`` or
  ``spec.containers[0].bar`` that the schema does not declare, in document order. Upstream
  reports them as ``unknown field "<path>"``:

  * ``fieldValidation=Strict``: 400 BadRequest, message
    ``<Kind> in version "<version>" cannot be handled as a <Kind>: strict decoding error:
    unknown field "spec.foo", unknown field "spec.bar"`` (see ``strict_decoding_message``);
  * ``fieldValidation=Warn`` (the default for kubectl): one ``Warning`` header per field,
    ``299 - "unknown field \\"spec.foo\\""``; ``Ignore``: nothing.

  Duplicate JSON keys cannot be seen once the body is a dict, so they are not reported here.

Checks run in three layers: a schema walk (JSON types, quantity syntax, schema-required fields,
unknown fields), ObjectMeta rules shared by all kinds, then per-kind rules from ``registry``.
A body with type errors gets only those back, so per-kind rules never see ill-typed values.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.schema import schemas

from . import ephemeral, field, go_decode, meta, schema_check
from .decoding import DuplicateFields, decoding_problems, find_duplicate_fields, strict_decoding_message
from .registry import KindRules, rules_for

__all__ = ["DuplicateFields", "decoding_problems", "find_duplicate_fields", "strict_decoding_message", "unknown_fields", "validate_create", "validate_ephemeral_containers_update",
           "validate_update"]


def _schema_report(group: str, version: str, kind: str, obj: dict[str, Any], minor: str) -> schema_check.SchemaReport:
    kind_schemas = schemas(minor)
    return schema_check.check(kind_schemas, kind_schemas.for_kind(group, version, kind), obj)


def _with_schema_required(missing: list[Cause], rules: KindRules, kind_causes: list[Cause]) -> list[Cause]:
    """Schema-required fields not already reported by the kind's own rules (whose text wins)."""
    reported = {c.field for c in kind_causes}
    return [c for c in missing if c.field not in reported and c.field not in rules.schema_optional] + kind_causes


def _type_errors(report: schema_check.SchemaReport, group: str, version: str, kind: str, minor: str,
                 typed_body: bool) -> list[Cause]:
    """The schema's type errors as causes (a 422) or, for a body upstream decodes into typed structs
    (``typed_body``: a create or update request), raised as upstream's 400 decoding error."""
    if typed_body and report.first_type_error is not None:
        kind_schemas = schemas(minor)
        root = kind_schemas.definition_name_for(group, version, kind)
        path, value = report.first_type_error
        text = root and go_decode.message(kind_schemas, kind, version, root, schema_check.segments(path), value)
        if text:
            raise errors.bad_request(text)
    return field.dedupe(report.type_errors)


def validate_create(group: str, version: str, kind: str, obj: dict[str, Any], minor: str = "1.35",
                    typed_body: bool = False) -> list[Cause]:
    report = _schema_report(group, version, kind, obj, minor)
    if report.type_errors:
        return _type_errors(report, group, version, kind, minor, typed_body)
    rules = rules_for(group, kind)
    causes = meta.validate(obj, rules.name_check, rules.namespaced)
    causes += _with_schema_required(report.missing, rules, rules.create(obj, minor))
    return field.dedupe(causes)


def validate_update(group: str, version: str, kind: str, new: dict[str, Any], old: dict[str, Any],
                    minor: str = "1.35", typed_body: bool = False) -> list[Cause]:
    report = _schema_report(group, version, kind, new, minor)
    if report.type_errors:
        return _type_errors(report, group, version, kind, minor, typed_body)
    rules = rules_for(group, kind)
    causes = meta.validate_update(new, old)
    if rules.revalidate_on_update:
        causes += _with_schema_required(report.missing, rules, rules.create(new, minor))
    causes += rules.update(new, old, minor)
    return field.dedupe(causes)


def validate_ephemeral_containers_update(new: dict[str, Any], old: dict[str, Any], minor: str = "1.35") -> list[Cause]:
    """A Pod written through ``pods/<name>/ephemeralcontainers`` (only its ephemeral containers differ)."""
    report = _schema_report("", "v1", "Pod", new, minor)
    if report.type_errors:
        return field.dedupe(report.type_errors)
    return field.dedupe(ephemeral.ephemeral_containers_update(new, old, minor))


def unknown_fields(group: str, version: str, kind: str, obj: dict[str, Any], minor: str = "1.35") -> list[str]:
    return _schema_report(group, version, kind, obj, minor).unknown
