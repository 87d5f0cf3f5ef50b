"""CRD validation and structural-schema rules, with upstream's paths and messages."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.apiextensions import crd_validation, structural

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def _crd(schema: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": schema or {"type": "object"}}}
    return {"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced", "versions": [version],
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"}, **spec}}


def _rendered(causes: list[Any]) -> set[str]:
    return {f"{c.field}: {c.message}" for c in causes}


def test_valid_crd_has_no_causes() -> None:
    assert crd_validation.validate_crd(_crd()) == []


def test_names_scope_group_and_versions() -> None:
    crd = _crd(group="example", scope="Global")
    crd["spec"]["names"].update(kind="Widget", listKind="Widget", shortNames=["W"])
    crd["spec"]["versions"].append({"name": "v2", "served": False, "storage": True,
                                    "schema": {"openAPIV3Schema": {"type": "object"}}})
    out = _rendered(crd_validation.validate_crd(crd))
    assert 'metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group' in out
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in out
    assert 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"' in out
    assert 'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same' in out
    assert any(line.startswith('spec.names.shortNames[0]: Invalid value: "W": a DNS-1035 label') for line in out)
    assert any(line.startswith("spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{")
               and line.endswith("must have exactly one version marked as storage version") for line in out)


def test_webhook_conversion_settings_are_validated_with_the_crd() -> None:
    crd = _crd(conversion={"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v9"]}})
    causes = crd_validation.validate_crd(crd)
    fields = {c.field for c in causes}
    assert "spec.conversion.webhookClientConfig" in fields
    assert "spec.conversion.conversionReviewVersions" in fields
    good = _crd(conversion={"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"], "clientConfig": {"url": "https://127.0.0.1:9443/convert"}}})
    assert crd_validation.validate_crd(good) == []
    # A CRD that already listed no review version this server speaks may still be updated.
    old = _crd(conversion={"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v9"], "clientConfig": {"url": "https://127.0.0.1:9443/convert"}}})
    assert crd_validation.validate_crd_update(old, old) == []


def test_protected_groups_need_the_api_approval_annotation() -> None:
    crd = _crd(group="metrics.k8s.io")
    crd["metadata"]["name"] = "widgets.metrics.k8s.io"
    assert _rendered(crd_validation.validate_crd(crd)) == {
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval "
        'annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111'}
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    assert crd_validation.validate_crd(crd) == []


def test_scope_and_kind_immutable_once_established() -> None:
    old = _crd()
    old["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
    new = _crd(scope="Cluster")
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in _rendered(
        crd_validation.validate_crd_update(new, old))


def test_structural_rules() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "string"}, "properties": {
        "spec": {"properties": {"a": {"type": "string"}}},
        "list": {"type": "array"},
        "port": {"type": "string", "x-kubernetes-int-or-string": True},
        "both": {"type": "object", "properties": {"x": {"type": "string"}},
                 "additionalProperties": {"type": "string"}},
        "emb": {"type": "object", "x-kubernetes-embedded-resource": True},
        "keys": {"type": "array", "x-kubernetes-list-type": "map",
                 "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "junk": {"type": "object", "anyOf": [{"type": "string", "description": "x"}]},
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
    }}
    out = _rendered(structural.validate_schema(schema, ROOT))
    expected = {
        f"{ROOT}.additionalProperties: Forbidden: must not be used at the root",
        f"{ROOT}.properties[spec].type: Required value: must not be empty for specified object fields",
        f"{ROOT}.properties[list].items: Required value: must be specified",
        f'{ROOT}.properties[port].type: Invalid value: "string": must be empty if x-kubernetes-int-or-string is true',
        f"{ROOT}.properties[both].additionalProperties: Forbidden: additionalProperties and properties are "
        "mutual exclusive",
        f"{ROOT}.properties[emb].properties: Required value: must not be empty if x-kubernetes-embedded-resource "
        "is true without x-kubernetes-preserve-unknown-fields",
        f"{ROOT}.properties[keys].x-kubernetes-list-map-keys: Required value: must not be empty if "
        "x-kubernetes-list-type is map",
        f"{ROOT}.properties[junk].anyOf[0].type: Forbidden: must be empty to be structural",
        f"{ROOT}.properties[junk].anyOf[0].description: Forbidden: must be empty to be structural",
        f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
        "but metadata is implicitly specified",
    }
    assert expected <= out, expected - out


def test_int_or_string_any_of_pattern_is_structural() -> None:
    schema = {"type": "object", "properties": {"port": {
        "x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert structural.validate_schema(schema, ROOT) == []
