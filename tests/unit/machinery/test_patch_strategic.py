"""Strategic merge patch driven by the 1.35 schemas, with patches shaped as kubectl sends them."""

import copy
from typing import Any

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.patch import strategic
from kubeplane.machinery.schema import Schemas, schemas

SCHEMAS: Schemas = schemas("1.35")
DEPLOYMENT_SCHEMA = SCHEMAS.for_kind("apps", "v1", "Deployment")
POD_SCHEMA = SCHEMAS.for_kind("", "v1", "Pod")
CONFIGMAP_SCHEMA = SCHEMAS.for_kind("", "v1", "ConfigMap")


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "x", "operator": "Exists"}],
                },
            },
        },
    }


def apply_to_deployment(patch: dict[str, Any], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    return strategic.apply(doc or deployment(), patch, DEPLOYMENT_SCHEMA, SCHEMAS)


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return result


def test_kubectl_apply_changes_image_and_removes_env_var() -> None:
    # What `kubectl apply` sends after editing the image and dropping env B from the manifest.
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}],
                        "image": "nginx:1.27", "name": "web"}],
    }}}}
    original = deployment()
    out = apply_to_deployment(patch, original)
    web, sidecar = containers(out)
    assert web == {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}],
                   "ports": [{"containerPort": 80, "protocol": "TCP"}]}
    assert sidecar["name"] == "sidecar"
    assert original == deployment()  # inputs untouched


def test_set_element_order_reorders_and_adds() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "new"}, {"name": "web"}],
        "containers": [{"name": "new", "image": "redis"}],
    }}}}
    assert [c["name"] for c in containers(apply_to_deployment(patch))] == ["sidecar", "new", "web"]


def test_new_list_item_without_order_goes_first_as_upstream() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "redis"}]}}}}
    assert [c["name"] for c in containers(apply_to_deployment(patch))] == ["new", "web", "sidecar"]


def test_server_only_items_keep_their_place() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:2"}],
    }}}}
    assert [c["name"] for c in containers(apply_to_deployment(patch))] == ["web", "sidecar"]


def test_ports_merge_by_container_port() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]}}}}
    web = containers(apply_to_deployment(patch))[0]
    assert [p["containerPort"] for p in web["ports"]] == [443, 80]


def test_atomic_lists_replace_and_primitive_lists_of_containers_replace() -> None:
    patch = {"spec": {"template": {"spec": {
        "tolerations": [{"key": "y", "operator": "Exists"}],
        "containers": [{"name": "sidecar", "args": ["sleep", "2d"]}],
    }}}}
    out = apply_to_deployment(patch)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]
    assert containers(out)[1]["args"] == ["sleep", "2d"]


def test_retain_keys_clears_other_strategy_fields() -> None:
    # `kubectl apply` switching strategy to Recreate sends $retainKeys for the retainKeys field.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}}
    assert apply_to_deployment(patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_rejects_patch_keys_outside_the_list() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}
    with pytest.raises(StatusError) as info:
        apply_to_deployment(patch)
    assert (info.value.code, info.value.message) == (400, "invalid patch format of retainKeys")


def test_volumes_merge_with_retain_keys_on_elements() -> None:
    # Changing a volume's source: kubectl sends $retainKeys inside the element.
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}],
    }}}}
    assert apply_to_deployment(patch)["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "cfg"}}]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    out = apply_to_deployment({"metadata": {"finalizers": ["b", "c"]}})
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = apply_to_deployment({"metadata": {"$setElementOrder/finalizers": ["b", "c"],
                                            "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}})
    assert out["metadata"]["finalizers"] == ["b", "c"]
    out = apply_to_deployment({"metadata": {"$deleteFromPrimitiveList/missing": ["a"]}})
    assert "missing" not in out["metadata"]


def test_null_deletes_and_maps_merge() -> None:
    out = apply_to_deployment({"metadata": {"labels": {"app": None, "tier": "fe"}}, "spec": {"replicas": None}})
    assert out["metadata"]["labels"] == {"tier": "fe"}
    assert "replicas" not in out["spec"]


def test_patch_directive_replace_and_delete_in_maps() -> None:
    out = apply_to_deployment({"metadata": {"labels": {"$patch": "replace", "only": "me"}}})
    assert out["metadata"]["labels"] == {"only": "me"}
    out = apply_to_deployment({"spec": {"template": {"metadata": {"$patch": "delete"}}}})
    assert out["spec"]["template"]["metadata"] == {}


def test_patch_directive_replace_in_merge_list() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}}}
    assert containers(apply_to_deployment(patch)) == [{"name": "only", "image": "x"}]


def test_new_values_are_cleaned_of_directives_and_nulls() -> None:
    doc = deployment()
    del doc["spec"]["template"]
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b", "image": "y"}, {"name": "a", "image": "x", "env": None}],
    }}}}
    out = apply_to_deployment(patch, doc)
    assert out["spec"]["template"] == {"spec": {"containers": [{"name": "b", "image": "y"}, {"name": "a", "image": "x"}]}}


def test_unknown_fields_merge_like_json_merge_patch() -> None:
    doc = {"data": {"a": "1"}, "custom": {"list": [1, 2], "m": {"x": 1}}}
    out = strategic.apply(doc, {"custom": {"list": [3], "m": {"y": 2}}, "data": {"b": "2"}}, CONFIGMAP_SCHEMA, SCHEMAS)
    assert out == {"data": {"a": "1", "b": "2"}, "custom": {"list": [3], "m": {"x": 1, "y": 2}}}
    assert strategic.apply(doc, {"custom": {"list": [3]}}, None, None)["custom"]["list"] == [3]


def test_pod_status_conditions_merge_by_type() -> None:
    pod = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}
    out = strategic.apply(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD_SCHEMA, SCHEMAS)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]


def test_errors_mirror_upstream_codes() -> None:
    with pytest.raises(StatusError) as info:
        apply_to_deployment({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    assert info.value.code == 500
    assert info.value.message == "map: map[image:x] does not contain declared merge key: name"
    with pytest.raises(StatusError) as info:
        apply_to_deployment({"metadata": {"labels": {"$patch": "bogus"}}})
    assert info.value.message == "unknown patch type: bogus in map: map[$patch:bogus]"
    with pytest.raises(StatusError) as info:
        apply_to_deployment({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}}})
    assert info.value.message == "merging lists cannot yet be specified in the patch"
    with pytest.raises(StatusError) as info:
        strategic.apply({}, [1], None, None)
    assert info.value.code == 400
    with pytest.raises(StatusError) as info:
        apply_to_deployment({"metadata": {"finalizers": [["x"]]}})
    assert info.value.code == 422


def test_order_list_mismatch_is_rejected() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "other", "image": "x"}],
    }}}}
    with pytest.raises(StatusError) as info:
        apply_to_deployment(patch)
    assert "doesn't match $setElementOrder list" in info.value.message


def test_empty_patch_is_identity() -> None:
    doc = deployment()
    assert apply_to_deployment({}, copy.deepcopy(doc)) == doc
