"""ConfigMap, Secret, Namespace, PVC and Node validation."""

from __future__ import annotations

import base64
import copy
from typing import Any

from kubeplane.machinery import defaults, validation


def _obj(kind: str, namespaced: bool = True, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "o"}
    if namespaced:
        meta["namespace"] = "default"
    obj = {"apiVersion": "v1", "kind": kind, "metadata": meta, **fields}
    defaults.apply("", "v1", kind, obj)
    return obj


def _causes(kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_create("", "v1", kind, obj)]


def _update(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_update("", "v1", kind, new, old)]


def test_config_map_keys() -> None:
    assert _causes("ConfigMap", _obj("ConfigMap", data={"app.conf": "x", "KEY_1": "y"})) == []
    assert _causes("ConfigMap", _obj("ConfigMap", data={"a/b": "x"})) == [
        ("data", "Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or "
                 "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")]
    assert ("data", "Invalid value: \"..x\": must not start with '..'") in _causes(
        "ConfigMap", _obj("ConfigMap", data={"..x": "v"}))


def test_config_map_size_and_binary_duplicates() -> None:
    big = _obj("ConfigMap", data={"a": "x" * (1024 * 1024 + 1)})
    assert _causes("ConfigMap", big) == [("", "Too long: may not be more than 1048576 bytes")]
    dup = _obj("ConfigMap", data={"a": "x"}, binaryData={"a": base64.b64encode(b"x").decode()})
    assert _causes("ConfigMap", dup) == [("data", 'Invalid value: "a": duplicate of key present in binaryData')]


def test_immutable_config_map() -> None:
    old = _obj("ConfigMap", data={"a": "1"}, immutable=True)
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert _update("ConfigMap", new, old) == [("data", "Forbidden: field is immutable when `immutable` is set")]


def test_secret_data() -> None:
    good = _obj("Secret", data={"password": base64.b64encode(b"pw").decode()})
    assert good["type"] == "Opaque"
    assert _causes("Secret", good) == []
    assert _causes("Secret", _obj("Secret", data={"k": "not base64!"})) == [
        ("data[k]", 'Invalid value: "<secret contents redacted>": illegal base64 data')]
    assert _causes("Secret", _obj("Secret", data={"bad key": "eA=="}))[0][0] == "data[bad key]"


def test_secret_types() -> None:
    tls = _obj("Secret", type="kubernetes.io/tls", data={"tls.crt": "eA=="})
    assert _causes("Secret", tls) == [("data[tls.key]", "Required value")]
    token = _obj("Secret", type="kubernetes.io/service-account-token")
    assert _causes("Secret", token) == [
        ("metadata.annotations[kubernetes.io/service-account.name]", "Required value")]
    old = _obj("Secret")
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/tls"
    new["data"] = {"tls.crt": "eA==", "tls.key": "eA=="}
    assert _update("Secret", new, old) == [("type", 'Invalid value: "kubernetes.io/tls": field is immutable')]


def test_namespace() -> None:
    assert _causes("Namespace", _obj("Namespace", namespaced=False, spec={"finalizers": ["kubernetes"]})) == []
    assert _causes("Namespace", _obj("Namespace", namespaced=False, spec={"finalizers": ["custom"]})) == [
        ("spec.finalizers", 'Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified')]


def _claim(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    body.update(spec)
    return _obj("PersistentVolumeClaim", spec=body)


def test_persistent_volume_claim() -> None:
    assert _causes("PersistentVolumeClaim", _claim()) == []
    assert _causes("PersistentVolumeClaim", _claim(accessModes=[])) == [
        ("spec.accessModes", "Required value: at least 1 access mode is required")]
    assert _causes("PersistentVolumeClaim", _claim(accessModes=["ReadWriteSometimes"])) == [
        ("spec.accessModes", 'Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
                             '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"')]
    assert _causes("PersistentVolumeClaim", _claim(resources={})) == [("spec.resources[storage]", "Required value")]
    assert _causes("PersistentVolumeClaim", _claim(resources={"requests": {"storage": "0"}})) == [
        ("spec.resources[storage]", 'Invalid value: "0": must be greater than zero')]


def test_persistent_volume_claim_update_allows_expansion_only() -> None:
    old = _claim()
    new = copy.deepcopy(old)
    new["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert _update("PersistentVolumeClaim", new, old) == []
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    assert _update("PersistentVolumeClaim", new, old) == [
        ("spec", "Forbidden: spec is immutable after creation except resources.requests and "
                 "volumeAttributesClassName for bound claims")]


def test_node_taints() -> None:
    node = _obj("Node", namespaced=False, spec={"taints": [{"key": "k", "effect": "NoSchedule"}]})
    assert _causes("Node", node) == []
    node["spec"]["taints"][0]["effect"] = "Never"
    assert _causes("Node", node) == [
        ("spec.taints[0].effect",
         'Unsupported value: "Never": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"')]
