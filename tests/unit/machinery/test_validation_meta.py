"""Generic checks: names, metadata, schema types, required fields, unknown fields, message format."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.machinery import validation
from kubeplane.machinery.errors import invalid
from kubeplane.machinery.validation import names


def _cm(**meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "c", "namespace": "default"}
    metadata.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def _causes(group: str, kind: str, obj: dict[str, Any], version: str = "v1") -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_create(group, version, kind, obj)]


SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def test_name_required_unless_generate_name() -> None:
    assert _causes("", "ConfigMap", _cm(name="")) == [
        ("metadata.name", "Required value: name or generateName is required")]
    assert _causes("", "ConfigMap", _cm(name="", generateName="web-")) == []


def test_name_must_be_dns_subdomain() -> None:
    assert _causes("", "ConfigMap", _cm(name="Bad_Name")) == [
        ("metadata.name", f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}')]


def test_generate_name_is_checked_as_a_prefix() -> None:
    assert _causes("", "ConfigMap", _cm(name="", generateName="ok.prefix-")) == []
    assert _causes("", "ConfigMap", _cm(name="", generateName="Bad-"))[0][0] == "metadata.generateName"


@pytest.mark.parametrize(("group", "kind", "name", "ok"), [
    ("", "Namespace", "team-a", True),
    ("", "Namespace", "team.a", False),  # namespaces are DNS labels
    ("", "Service", "1web", False),  # services are DNS-1035 labels
    ("", "Service", "web", True),
    ("rbac.authorization.k8s.io", "ClusterRole", "system:controller:foo", True),  # path segments
    ("rbac.authorization.k8s.io", "ClusterRole", "a/b", False),
    ("", "ConfigMap", "a.b-c", True),
])
def test_name_format_per_kind(group: str, kind: str, name: str, ok: bool) -> None:
    obj: dict[str, Any] = {"metadata": {"name": name}}
    if kind in ("Service", "ConfigMap"):
        obj["metadata"]["namespace"] = "default"
    if kind == "Service":
        obj["spec"] = {"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80, "protocol": "TCP"}]}
    causes = _causes(group, kind, obj)
    assert (not any(f == "metadata.name" for f, _ in causes)) == ok, causes


def test_path_segment_messages() -> None:
    assert names.path_segment("..") == ["may not be '..'"]
    assert names.path_segment("a/b%c") == ["may not contain '/'", "may not contain '%'"]


def test_namespace_rules() -> None:
    cm = _cm()
    del cm["metadata"]["namespace"]
    assert _causes("", "ConfigMap", cm) == [("metadata.namespace", "Required value")]
    assert _causes("", "Namespace", {"metadata": {"name": "x", "namespace": "y"}}) == [
        ("metadata.namespace", "Forbidden: not allowed on this type")]


def test_labels() -> None:
    causes = _causes("", "ConfigMap", _cm(labels={"bad key!": "v", "ok": "x" * 64}))
    assert ("metadata.labels", 'Invalid value: "bad key!": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')") in causes
    assert ("metadata.labels", f'Invalid value: "{"x" * 64}": must be no more than 63 characters') in causes


def test_label_key_prefix() -> None:
    assert names.qualified_name("example.com/app") == []
    assert names.qualified_name("/app") == ["prefix part must be non-empty"]
    assert names.qualified_name("a/b/c")[0].startswith("a qualified name must consist of")


def test_annotations_total_size() -> None:
    causes = _causes("", "ConfigMap", _cm(annotations={"big": "x" * (256 * 1024)}))
    assert causes == [("metadata.annotations", "Too long: may not be more than 262144 bytes")]


def test_finalizers() -> None:
    assert _causes("", "ConfigMap", _cm(finalizers=["example.com/cleanup", "kubernetes"])) == []
    assert _causes("", "ConfigMap", _cm(finalizers=["bad/x/y"]))[0][0] == "metadata.finalizers"


def test_update_metadata_immutables() -> None:
    old = _cm(uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    new = _cm(uid="u2", creationTimestamp="2024-01-01T00:00:00Z", namespace="other")
    causes = [(c.field, c.message) for c in validation.validate_update("", "v1", "ConfigMap", new, old)]
    assert causes == [("metadata.namespace", 'Invalid value: "other": field is immutable'),
                      ("metadata.uid", 'Invalid value: "u2": field is immutable')]


def test_type_errors_are_causes_not_crashes() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": []},
           "spec": {"containers": [{"name": 5, "image": "x", "ports": [{"containerPort": "80"}]}],
                    "hostNetwork": "yes"}}
    causes = validation.validate_create("", "v1", "Pod", pod)
    assert [(c.type, c.field, c.message) for c in causes] == [
        ("FieldValueTypeInvalid", "metadata.labels", "Invalid value: []: must be of type object"),
        ("FieldValueTypeInvalid", "spec.containers[0].name", "Invalid value: 5: must be of type string"),
        ("FieldValueTypeInvalid", "spec.containers[0].ports[0].containerPort",
         'Invalid value: "80": must be of type integer'),
        ("FieldValueTypeInvalid", "spec.hostNetwork", 'Invalid value: "yes": must be of type boolean'),
    ]


@pytest.mark.parametrize(("value", "ok"), [
    ("100m", True), ("1Gi", True), ("1.5", True), ("1e3", True), (2, True), ("+1k", True),
    ("1x", False), ("", False), ("Gi", False), (" 1", False), (True, False),
])
def test_quantity_syntax(value: Any, ok: bool) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
           "spec": {"containers": [{"name": "c", "image": "x", "imagePullPolicy": "Always",
                                    "terminationMessagePolicy": "File", "resources": {"limits": {"cpu": value}}}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}
    causes = validation.validate_create("", "v1", "Pod", pod)
    assert (causes == []) == ok, causes
    if not ok:
        assert causes[0].field == "spec.containers[0].resources.limits[cpu]"


def test_int_or_string() -> None:
    svc = {"metadata": {"name": "s", "namespace": "d"},
           "spec": {"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80, "targetPort": 1.5}]}}
    assert _causes("", "Service", svc) == [
        ("spec.ports[0].targetPort", "Invalid value: 1.5: must be an integer or a string")]


def test_schema_required_fields() -> None:
    hpa = {"metadata": {"name": "h", "namespace": "d"}, "spec": {"maxReplicas": 2}}
    assert ("spec.scaleTargetRef", "Required value") in _causes("autoscaling", "HorizontalPodAutoscaler", hpa, "v2")


def test_unknown_fields_in_document_order() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "bogus": 1},
           "spec": {"replica": 2, "template": {"spec": {"containers": [{"name": "c", "imagee": "x"}]}}},
           "status": {"extra": True}}
    assert validation.unknown_fields("apps", "v1", "Deployment", dep) == [
        "metadata.bogus", "spec.replica", "spec.template.spec.containers[0].imagee", "status.extra"]


def test_maps_and_free_form_fields_are_not_unknown() -> None:
    cm = _cm(labels={"any": "thing"})
    cm["data"] = {"whatever.key": "v"}
    assert validation.unknown_fields("", "v1", "ConfigMap", cm) == []


def test_strict_decoding_message() -> None:
    problems = validation.decoding_problems(["spec.replica", "spec.foo"], None)
    assert validation.strict_decoding_message("Deployment", "v1", problems) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica", unknown field "spec.foo"')


def test_causes_join_into_upstream_422_message() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "d"},
           "spec": {"containers": [{"name": "c", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}
    error = invalid("", "Pod", "x", validation.validate_create("", "v1", "Pod", pod))
    assert error.message == 'Pod "x" is invalid: spec.containers[0].image: Required value'
