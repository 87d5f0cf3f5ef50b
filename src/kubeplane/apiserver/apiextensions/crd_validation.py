"""Validation of CustomResourceDefinition objects, as upstream's apiextensions validation.

Runs after the generic schema checks of the CRD kind itself (JSON types, ObjectMeta): names,
scope, versions, per-version schemas (structural), subresources, printer columns, conversion, and
on update the fields that may not change.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import names as name_checks

from . import names, structural
from .cel import validate_schema_rules
from .conversion_validation import validate_webhook_conversion
from .conversion_webhook import SUPPORTED_REVIEW_VERSIONS

JSON = dict[str, Any]

SCOPES = ("Cluster", "Namespaced")
CONVERSION_STRATEGIES = ("None", "Webhook")
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")


def _versions_value(crd: JSON) -> f.Rendered:
    """Upstream prints the whole Go slice; a short spelling of it keeps the message readable."""
    listed = ", ".join(f'{{Name:"{v.get("name", "")}", Served:{str(bool(v.get("served"))).lower()}, '
                       f'Storage:{str(bool(v.get("storage"))).lower()}}}' for v in names.versions(crd))
    return f.Rendered(f"[]apiextensions.CustomResourceDefinitionVersion{{{listed}}}")


def validate_crd(crd: JSON, require_recognized_review_version: bool = True,
                 require_api_approval: bool = True) -> list[Cause]:
    spec = names.spec(crd)
    causes: list[Cause] = []
    group = str(spec.get("group") or "")
    if require_api_approval:
        causes += _api_approval(crd, group)
    requested = names.Names.of(spec.get("names"))
    expected = f"{requested.plural}.{group}"
    name = str((crd.get("metadata") or {}).get("name") or "")
    if name and name != expected:
        causes.append(f.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes += _group(group)
    causes += f.one_of("spec.scope", spec.get("scope") or "", SCOPES)
    causes += _versions(crd)
    raw_names = spec.get("names")
    causes += _required_names(raw_names if isinstance(raw_names, dict) else {})
    causes += validate_names(requested, "spec.names")
    causes += _conversion(spec.get("conversion"))
    causes += validate_webhook_conversion(spec, require_recognized_review_version)
    return causes


def validate_crd_update(new: JSON, old: JSON) -> list[Cause]:
    spec, old_spec = names.spec(new), names.spec(old)
    # Upstream lets a CRD whose webhook already listed no review version this server speaks be updated.
    causes = validate_crd(new, require_recognized_review_version=_speaks_review_version(old_spec),
                          require_api_approval=_annotations(old).get(API_APPROVED) is not None)
    if names.is_true(old, names.ESTABLISHED):
        causes += f.immutable("spec.scope", spec.get("scope"), old_spec.get("scope"))
        causes += f.immutable("spec.names.kind", (spec.get("names") or {}).get("kind"),
                              (old_spec.get("names") or {}).get("kind"))
    causes += f.immutable("spec.group", spec.get("group"), old_spec.get("group"))
    causes += f.immutable("spec.names.plural", (spec.get("names") or {}).get("plural"),
                          (old_spec.get("names") or {}).get("plural"))
    return causes


def _group(group: str) -> list[Cause]:
    if not group:
        return [f.required("spec.group")]
    errs = name_checks.dns1123_subdomain(group)
    if errs:
        return [f.invalid("spec.group", group, ",".join(errs))]
    if len(group.split(".")) < 2:
        return [f.invalid("spec.group", group, "should be a domain with at least one dot")]
    return []


def _versions(crd: JSON) -> list[Cause]:
    causes: list[Cause] = []
    versions = names.versions(crd)
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        version_name = str(version.get("name") or "")
        if version_name in seen:
            unique = False
        seen.add(version_name)
        errs = name_checks.dns1035_label(version_name)
        if errs:
            causes.append(f.invalid(f"{path}.name", version_name, ",".join(errs)))
        causes += _version(version, path)
    if not versions:
        causes.append(f.required("spec.versions", "must have at least one version"))
    if not unique:
        causes.append(f.invalid("spec.versions", _versions_value(crd), "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(f.invalid("spec.versions", _versions_value(crd),
                                "must have exactly one version marked as storage version"))
    if versions and not any(v.get("served") for v in versions):
        causes.append(f.invalid("spec.versions", _versions_value(crd), "must have at least one version marked as "
                                                                       "served"))
    return causes


def _version(version: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    schema = names.open_api_schema(version)
    if schema is None:
        causes.append(f.required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
    else:
        schema_path = f"{path}.schema.openAPIV3Schema"
        causes += structural.validate_schema(schema, schema_path)
        causes += validate_schema_rules(schema, schema_path)
    causes += _subresources(version.get("subresources"), f"{path}.subresources")
    for i, column in enumerate(version.get("additionalPrinterColumns") or ()):
        if isinstance(column, dict):
            causes += _column(column, f"{path}.additionalPrinterColumns[{i}]")
    return causes


def _subresources(subresources: Any, path: str) -> list[Cause]:
    scale = subresources.get("scale") if isinstance(subresources, dict) else None
    if not isinstance(scale, dict):
        return []
    causes: list[Cause] = []
    spec_path = scale.get("specReplicasPath") or ""
    if not spec_path:
        causes.append(f.required(f"{path}.scale.specReplicasPath", ""))
    elif not spec_path.startswith(".spec."):
        causes.append(f.invalid(f"{path}.scale.specReplicasPath", spec_path, "should be a json path under .spec"))
    status_path = scale.get("statusReplicasPath") or ""
    if not status_path:
        causes.append(f.required(f"{path}.scale.statusReplicasPath", ""))
    elif not status_path.startswith(".status."):
        causes.append(f.invalid(f"{path}.scale.statusReplicasPath", status_path,
                                "should be a json path under .status"))
    selector_path = scale.get("labelSelectorPath") or ""
    if selector_path and not selector_path.startswith((".spec.", ".status.")):
        causes.append(f.invalid(f"{path}.scale.labelSelectorPath", selector_path,
                                "should be a json path under either .spec or .status"))
    return causes


def _column(column: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not column.get("name"):
        causes.append(f.required(f"{path}.name"))
    column_type = column.get("type") or ""
    one_of_types = "must be one of " + ",".join(COLUMN_TYPES)
    if not column_type:
        causes.append(f.required(f"{path}.type", one_of_types))
    elif column_type not in COLUMN_TYPES:
        causes.append(f.invalid(f"{path}.type", column_type, one_of_types))
    column_format = column.get("format") or ""
    if column_format and column_format not in COLUMN_FORMATS:
        causes.append(f.invalid(f"{path}.format", column_format, "must be one of " + ",".join(COLUMN_FORMATS)))
    json_path = column.get("jsonPath") or ""
    if not json_path:
        causes.append(f.required(f"{path}.jsonPath"))
    elif not json_path.startswith("."):
        causes.append(f.invalid(f"{path}.jsonPath", json_path, "must be a simple json path starting with ."))
    return causes


def _required_names(raw: JSON) -> list[Cause]:
    return [f.required(f"spec.names.{key}") for key in ("plural", "singular", "kind", "listKind") if not raw.get(key)]


def validate_names(requested: names.Names, path: str) -> list[Cause]:
    causes: list[Cause] = []

    def label(field_name: str, value: str, prefix: str = "", lower: bool = False) -> None:
        errs = name_checks.dns1035_label(value.lower() if lower else value)
        if value and errs:
            causes.append(f.invalid(f"{path}.{field_name}", value, prefix + ",".join(errs)))

    label("plural", requested.plural)
    label("singular", requested.singular)
    mixed = "may have mixed case, but should otherwise match: "
    label("kind", requested.kind, mixed, lower=True)
    label("listKind", requested.list_kind, mixed, lower=True)
    for i, short in enumerate(requested.short_names):
        label(f"shortNames[{i}]", short)
    if requested.kind and requested.kind == requested.list_kind:
        causes.append(f.invalid(f"{path}.listKind", requested.list_kind, "kind and listKind may not be the same"))
    for i, category in enumerate(requested.categories):
        label(f"categories[{i}]", category)
    return causes


def _conversion(conversion: Any) -> list[Cause]:
    if not isinstance(conversion, dict):
        return []
    causes = f.one_of("spec.conversion.strategy", conversion.get("strategy") or "", CONVERSION_STRATEGIES)
    webhook = conversion.get("webhook")
    if conversion.get("strategy") == "None" and webhook is not None:
        causes.append(f.forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook"))
    return causes


def _speaks_review_version(spec: JSON) -> bool:
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict) or conversion.get("strategy") != "Webhook":
        return True
    webhook = conversion.get("webhook")
    listed = (webhook.get("conversionReviewVersions") if isinstance(webhook, dict) else None) or ()
    return any(v in SUPPORTED_REVIEW_VERSIONS for v in listed)


API_APPROVED = "api-approved.kubernetes.io"
_PROTECTED_GROUPS = ("k8s.io", "kubernetes.io")


def _annotations(crd: JSON) -> JSON:
    annotations = (crd.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _api_approval(crd: JSON, group: str) -> list[Cause]:
    """Upstream's group protection (KEP 1111): a CRD in a Kubernetes community group needs the
    approval annotation (a PR URL, or a value starting "unapproved" to acknowledge it)."""
    if not any(group == g or group.endswith("." + g) for g in _PROTECTED_GROUPS):
        return []
    if _annotations(crd).get(API_APPROVED) is None:
        return [f.required(f"metadata.annotations[{API_APPROVED}]",
                           f'protected groups must have approval annotation "{API_APPROVED}", '
                           "see https://github.com/kubernetes/enhancements/pull/1111")]
    return []
