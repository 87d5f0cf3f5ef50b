"""The official `kubernetes` Python client against the real API server: typed CRUD, watch streams,
label and field selectors, and paginated lists."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from apiserver_process import kube_client

pytestmark = pytest.mark.integration


class Client(NamedTuple):
    models: Any  # the kubernetes.client module: V1Pod, CoreV1Api, ...
    api: Any  # an ApiClient configured from the test kubeconfig

    def __getattr__(self, name: str) -> Any:
        return getattr(self.models, name)


@pytest.fixture
def k8s(apiserver: Any) -> Iterator[Client]:
    client, api_client = kube_client(apiserver)
    yield Client(client, api_client)
    api_client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def configmap(client: Any, name: str, data: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> Any:
    return client.V1ConfigMap(api_version="v1", kind="ConfigMap", data=data,
                              metadata=client.V1ObjectMeta(name=name, labels=labels))


def pod(client: Any, name: str, labels: dict[str, str] | None = None, node_name: str | None = None) -> Any:
    return client.V1Pod(
        api_version="v1", kind="Pod", metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(node_name=node_name,
                              containers=[client.V1Container(name="app", image="busybox:1.35")]))


def deployment(client: Any, name: str, replicas: int = 1) -> Any:
    labels = {"app": name}
    return client.V1Deployment(
        api_version="apps/v1", kind="Deployment", metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox:1.35")]))))


def api_error(callable_: Any, *args: Any, **kwargs: Any) -> Any:
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as raised:
        callable_(*args, **kwargs)
    return raised.value


# -- typed CRUD ----------------------------------------------------------------------------------------

def test_configmap_crud(k8s: Any, namespace: str) -> None:
    core = k8s.CoreV1Api(k8s.api)
    name = unique("cm")
    created = core.create_namespaced_config_map(namespace, configmap(k8s, name, {"a": "1"}, {"app": "demo"}))
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    assert core.read_namespaced_config_map(name, namespace).data == {"a": "1"}
    names = [item.metadata.name for item in core.list_namespaced_config_map(namespace).items]
    assert name in names

    created.data["b"] = "2"
    replaced = core.replace_namespaced_config_map(name, namespace, created)
    assert replaced.data == {"a": "1", "b": "2"}
    assert replaced.metadata.resource_version != created.metadata.resource_version
    conflict = api_error(core.replace_namespaced_config_map, name, namespace, created)
    assert conflict.status == 409

    patched = core.patch_namespaced_config_map(name, namespace, {"data": {"c": "3"}})
    assert patched.data == {"a": "1", "b": "2", "c": "3"}
    json_patched = core.patch_namespaced_config_map(name, namespace, [{"op": "remove", "path": "/data/a"}])
    assert json_patched.data == {"b": "2", "c": "3"}

    core.delete_namespaced_config_map(name, namespace)
    missing = api_error(core.read_namespaced_config_map, name, namespace)
    assert missing.status == 404
    assert json.loads(missing.body)["message"] == f'configmaps "{name}" not found'


def test_pod_crud_and_status(k8s: Any, namespace: str) -> None:
    core = k8s.CoreV1Api(k8s.api)
    name = unique("pod")
    created = core.create_namespaced_pod(namespace, pod(k8s, name, {"app": "demo"}))
    assert created.status.phase == "Pending"
    assert created.spec.containers[0].image == "busybox:1.35"
    patched = core.patch_namespaced_pod_status(name, namespace, {"status": {"phase": "Running"}})
    assert patched.status.phase == "Running"
    read = core.read_namespaced_pod(name, namespace)
    assert read.status.phase == "Running"
    read.metadata.labels["tier"] = "gold"
    assert core.replace_namespaced_pod(name, namespace, read).metadata.labels == {"app": "demo", "tier": "gold"}
    deleted = core.delete_namespaced_pod(name, namespace)
    assert deleted.metadata.name == name  # pods answer DELETE with the object
    assert api_error(core.read_namespaced_pod, name, namespace).status == 404


def test_deployment_crud_and_scale(k8s: Any, namespace: str) -> None:
    apps = k8s.AppsV1Api(k8s.api)
    name = unique("web")
    created = apps.create_namespaced_deployment(namespace, deployment(k8s, name))
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    created.spec.replicas = 3
    replaced = apps.replace_namespaced_deployment(name, namespace, created)
    assert replaced.spec.replicas == 3 and replaced.metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale(name, namespace)
    assert scale.spec.replicas == 3
    scaled = apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 5}})
    assert scaled.spec.replicas == 5
    assert apps.read_namespaced_deployment(name, namespace).spec.replicas == 5
    listed = apps.list_namespaced_deployment(namespace, field_selector=f"metadata.name={name}")
    assert [d.metadata.name for d in listed.items] == [name]
    apps.delete_namespaced_deployment(name, namespace)
    assert apps.list_namespaced_deployment(namespace, field_selector=f"metadata.name={name}").items == []


def test_job_and_cluster_scoped_crud(k8s: Any, namespace: str) -> None:
    batch = k8s.BatchV1Api(k8s.api)
    name = unique("job")
    template = k8s.V1PodTemplateSpec(spec=k8s.V1PodSpec(
        restart_policy="Never", containers=[k8s.V1Container(name="app", image="busybox:1.35")]))
    job = k8s.V1Job(api_version="batch/v1", kind="Job", metadata=k8s.V1ObjectMeta(name=name),
                    spec=k8s.V1JobSpec(template=template))
    created = batch.create_namespaced_job(namespace, job)
    assert created.metadata.uid
    patched = batch.patch_namespaced_job(name, namespace, {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.labels["x"] == "y"
    batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
    assert api_error(batch.read_namespaced_job, name, namespace).status == 404

    scheduling = k8s.SchedulingV1Api(k8s.api)
    priority = unique("prio")
    scheduling.create_priority_class(k8s.V1PriorityClass(api_version="scheduling.k8s.io/v1", kind="PriorityClass",
                                                         metadata=k8s.V1ObjectMeta(name=priority), value=100))
    assert scheduling.read_priority_class(priority).value == 100
    scheduling.delete_priority_class(priority)
    assert api_error(scheduling.read_priority_class, priority).status == 404


def test_bodies_without_type_meta_are_accepted(k8s: Any, namespace: str) -> None:
    """Generated clients leave apiVersion/kind out unless set; upstream's decoder takes them from the URL."""
    core = k8s.CoreV1Api(k8s.api)
    name = unique("bare")
    created = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name),
                                                                           data={"a": "1"}))
    assert created.kind == "ConfigMap" and created.api_version == "v1"
    apps = k8s.AppsV1Api(k8s.api)
    bare = deployment(k8s, unique("bare"))
    bare.api_version = bare.kind = None
    assert apps.create_namespaced_deployment(namespace, bare).kind == "Deployment"


# -- watch -----------------------------------------------------------------------------------------------

def test_watch_stream_sees_added_modified_deleted(k8s: Any, namespace: str) -> None:
    from kubernetes import watch

    core = k8s.CoreV1Api(k8s.api)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    name = unique("watched")
    core.create_namespaced_config_map(namespace, configmap(k8s, name, {"v": "1"}))
    core.patch_namespaced_config_map(name, namespace, {"data": {"v": "2"}})
    core.delete_namespaced_config_map(name, namespace)

    seen: list[tuple[str, str, dict[str, str]]] = []
    watcher = watch.Watch()
    for event in watcher.stream(core.list_namespaced_config_map, namespace, resource_version=start,
                                timeout_seconds=10):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, obj.data))
        if event["type"] == "DELETED":
            watcher.stop()
    assert seen == [("ADDED", name, {"v": "1"}), ("MODIFIED", name, {"v": "2"}), ("DELETED", name, {"v": "2"})]


def test_watch_with_label_selector_filters_events(k8s: Any, namespace: str) -> None:
    from kubernetes import watch

    core = k8s.CoreV1Api(k8s.api)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    wanted, other = unique("wanted"), unique("other")
    for name, labels in ((other, {"pick": "no"}), (wanted, {"pick": "yes"})):
        core.create_namespaced_config_map(namespace, configmap(k8s, name, labels=labels))
    # Relabelling out of the selection is a DELETED for this watcher.
    core.patch_namespaced_config_map(wanted, namespace, {"metadata": {"labels": {"pick": "no"}}})
    seen: list[tuple[str, str]] = []
    watcher = watch.Watch()
    for event in watcher.stream(core.list_namespaced_config_map, namespace, label_selector="pick=yes",
                                resource_version=start, timeout_seconds=10):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            watcher.stop()
    assert seen == [("ADDED", wanted), ("DELETED", wanted)]


# -- selectors -------------------------------------------------------------------------------------------

def names(items: list[Any]) -> set[str]:
    return {item.metadata.name for item in items}


def test_label_and_field_selectors(k8s: Any, namespace: str) -> None:
    core = k8s.CoreV1Api(k8s.api)
    a, b, c = unique("a"), unique("b"), unique("c")
    core.create_namespaced_pod(namespace, pod(k8s, a, {"app": "web", "tier": "front"}, node_name="node-1"))
    core.create_namespaced_pod(namespace, pod(k8s, b, {"app": "web", "tier": "back"}, node_name="node-2"))
    core.create_namespaced_pod(namespace, pod(k8s, c, {"app": "db"}))
    core.patch_namespaced_pod_status(b, namespace, {"status": {"phase": "Running"}})

    def listed(**selectors: str) -> set[str]:
        return names(core.list_namespaced_pod(namespace, **selectors).items)

    assert listed(label_selector="app=web") == {a, b}
    assert listed(label_selector="app=web,tier!=front") == {b}
    assert listed(label_selector="tier in (front,back)") == {a, b}
    assert listed(label_selector="!tier") == {c}
    assert listed(label_selector="tier") == {a, b}
    assert listed(field_selector="spec.nodeName=node-1") == {a}
    assert listed(field_selector="spec.nodeName=") == {c}
    assert listed(field_selector="spec.nodeName!=node-1") == {b, c}
    assert listed(field_selector="status.phase=Running") == {b}
    assert listed(field_selector="status.phase=Pending") == {a, c}
    assert listed(field_selector=f"metadata.name={c}") == {c}
    assert listed(field_selector=f"metadata.namespace={namespace},metadata.name!={c}") == {a, b}
    assert listed(label_selector="app=web", field_selector="status.phase=Pending") == {a}
    # Across namespaces, as a scheduler asks for a node's pods.
    everywhere = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-2")
    assert {(p.metadata.namespace, p.metadata.name) for p in everywhere.items} >= {(namespace, b)}

    bad = api_error(core.list_namespaced_pod, namespace, field_selector="spec.bogus=x")
    assert bad.status == 400
    assert 'field label not supported: spec.bogus' in bad.body


# -- pagination ------------------------------------------------------------------------------------------

def test_pagination_returns_every_object_exactly_once(k8s: Any, namespace: str) -> None:
    core = k8s.CoreV1Api(k8s.api)
    created = {f"page-{i:02d}" for i in range(25)}
    for name in sorted(created):
        core.create_namespaced_config_map(namespace, configmap(k8s, name))

    seen: list[str] = []
    pages = 0
    token: str | None = None
    list_rv = None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=10, _continue=token)
        pages += 1
        seen.extend(item.metadata.name for item in page.items)
        list_rv = list_rv or page.metadata.resource_version
        # Every page is served at the first page's resource version (a consistent snapshot).
        assert page.metadata.resource_version == list_rv
        # A change made between pages is not visible in later pages.
        if pages == 1:
            core.create_namespaced_config_map(namespace, configmap(k8s, "page-99"))
        token = page.metadata._continue
        if not token:
            assert page.metadata.remaining_item_count is None
            break
        assert len(page.items) == 10
        assert page.metadata.remaining_item_count == 25 - len(seen)
    assert pages == 3
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert seen == sorted(seen)  # lists come back in key order


def test_list_with_resource_version_zero(k8s: Any, namespace: str) -> None:
    core = k8s.CoreV1Api(k8s.api)
    name = unique("cached")
    core.create_namespaced_config_map(namespace, configmap(k8s, name))
    consistent = core.list_namespaced_config_map(namespace)
    assert name in names(consistent.items)
    cached = core.list_namespaced_config_map(namespace, resource_version="0")
    assert int(cached.metadata.resource_version) > 0
    # "0" may be served from the watch cache, which is at most a little behind.
    assert names(cached.items) <= names(consistent.items) | {name}
    at_least = core.list_namespaced_config_map(namespace, resource_version=consistent.metadata.resource_version,
                                               resource_version_match="NotOlderThan")
    assert name in names(at_least.items)
