"""pods/<name>/ephemeralcontainers: upstream's validation of ephemeral containers, and the
strategy that lets a write change only spec.ephemeralContainers (through the store, in memory)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.core.ephemeral_containers import EphemeralContainersStrategy
from kubeplane.apiserver.registry.registry import Registry, RegistryConfig
from kubeplane.catalog import Catalog
from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.validation import validate_create, validate_ephemeral_containers_update
from kubeplane.storage.memory import MemoryStorage

JSON = dict[str, Any]
NS = "debugging"


def _pod(**spec: Any) -> JSON:
    base: JSON = {"containers": [{"name": "app", "image": "busybox", "terminationMessagePolicy": "File",
                                  "imagePullPolicy": "IfNotPresent"}],
                  "initContainers": [{"name": "setup", "image": "busybox", "terminationMessagePolicy": "File",
                                      "imagePullPolicy": "IfNotPresent"}],
                  "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "reader", "namespace": NS, "uid": "u1", "resourceVersion": "5",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {**base, **spec}}


def _debugger(name: str = "debugger", **fields: Any) -> JSON:
    return {"name": name, "image": "busybox", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "File", **fields}


def _causes(new: JSON, old: JSON) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate_ephemeral_containers_update(new, old, "1.35")]


def test_adding_a_debugger_with_a_target_is_valid() -> None:
    old = _pod()
    new = _pod(ephemeralContainers=[_debugger(targetContainerName="app", stdin=True, tty=True,
                                              command=["sh"], securityContext={"privileged": False})])
    assert _causes(new, old) == []


def test_names_are_unique_across_every_kind_of_container_and_targets_must_exist() -> None:
    new = _pod(ephemeralContainers=[_debugger("app"), _debugger("setup"), _debugger("dbg"), _debugger("dbg"),
                                    _debugger("other", targetContainerName="dbg")])
    assert _causes(new, _pod()) == [
        ("spec.ephemeralContainers[0].name", 'Duplicate value: "app"'),
        ("spec.ephemeralContainers[1].name", 'Duplicate value: "setup"'),
        ("spec.ephemeralContainers[3].name", 'Duplicate value: "dbg"'),
        # Another ephemeral container is no target: only containers and init containers are.
        ("spec.ephemeralContainers[4].targetContainerName", 'Not found: "dbg"'),
    ]


def test_fields_that_serve_the_pod_are_forbidden() -> None:
    probe = {"exec": {"command": ["true"]}}
    new = _pod(ephemeralContainers=[_debugger(
        ports=[{"containerPort": 80, "protocol": "TCP"}], resources={"limits": {"cpu": "1"}},
        livenessProbe=probe, readinessProbe=probe, startupProbe=probe,
        lifecycle={"preStop": probe}, volumeMounts=[{"name": "v", "mountPath": "/v", "subPath": "x"}])],
        volumes=[{"name": "v", "emptyDir": {}}])
    forbidden = "Forbidden: cannot be set for an Ephemeral Container"
    assert _causes(new, _pod(volumes=[{"name": "v", "emptyDir": {}}])) == [
        (f"spec.ephemeralContainers[0].{key}", forbidden)
        for key in ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                    "volumeMounts[0].subPath")]
    # Defaulted empty fields (resources: {}) are not "set".
    assert _causes(_pod(ephemeralContainers=[_debugger(resources={})]), _pod()) == []


def test_existing_entries_may_not_be_changed_or_removed() -> None:
    old = _pod(ephemeralContainers=[_debugger(), _debugger("second")])
    changed = _pod(ephemeralContainers=[_debugger(image="busybox:2"), _debugger("third")])
    causes = _causes(changed, old)
    assert [c[0] for c in causes] == ["spec.ephemeralContainers"] * 2
    assert causes[0][1].startswith('Forbidden: existing ephemeral containers "debugger" may not be changed\n')
    assert 'image: "busybox" -> "busybox:2"' in causes[0][1]
    assert causes[1][1] == 'Forbidden: existing ephemeral containers "second" may not be removed\n'


def test_static_pods_have_no_ephemeral_containers() -> None:
    old = _pod()
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [_debugger()]
    assert _causes(new, old) == [("", "Forbidden: static pods do not support ephemeral containers")]


def test_create_still_forbids_ephemeral_containers() -> None:
    pod = _pod(ephemeralContainers=[_debugger()])
    messages = [(c.field, c.message) for c in validate_create("", "v1", "Pod", pod, "1.35")]
    assert ("spec.ephemeralContainers", "Forbidden: cannot be set on create") in messages


# -- through the store --------------------------------------------------------------------------


def _registry() -> Registry:
    backend: dict[str, MemoryStorage] = {}

    def storage_for(prefix: str, info: Any) -> MemoryStorage:
        return backend.setdefault(prefix, MemoryStorage())

    return Registry(Catalog.for_version("1.35"), storage_for, RegistryConfig())


async def _stored_pod(registry: Registry) -> JSON:
    admin = RequestContext(user="admin", groups=("system:masters",))
    await registry.core("namespaces").create(admin, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": NS}})
    await registry.core("serviceaccounts").create(RequestContext(namespace=NS), {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    pods = registry.core("pods")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "labels": {"app": "r"}},
           "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
    pods.strategy.default(pod)
    created: JSON = await pods.create(RequestContext(namespace=NS), pod)
    return created


def test_the_subresource_changes_only_ephemeral_containers() -> None:
    async def scenario() -> None:
        registry = _registry()
        pods = registry.core("pods")
        created = await _stored_pod(registry)
        strategy = EphemeralContainersStrategy(pods.strategy)
        ctx = RequestContext(namespace=NS, subresource="ephemeralcontainers")

        async def add_debugger(current: JSON | None) -> JSON:
            assert current is not None
            current["metadata"]["labels"] = {"app": "changed"}
            current["spec"]["containers"][0]["image"] = "busybox:other"
            current["status"] = {"phase": "Failed"}
            debugger = _debugger(targetContainerName="app")
            pods.strategy.default({"spec": {"ephemeralContainers": [debugger]}})
            current["spec"]["ephemeralContainers"] = [debugger]
            return current

        updated, _ = await pods.update(ctx, "reader", add_debugger, strategy)
        assert [c["name"] for c in updated["spec"]["ephemeralContainers"]] == ["debugger"]
        assert updated["metadata"]["labels"] == {"app": "r"}
        assert updated["spec"]["containers"] == created["spec"]["containers"]
        assert updated["status"] == created["status"]
        assert updated["metadata"]["generation"] == created["metadata"]["generation"] + 1

        async def remove_debugger(current: JSON | None) -> JSON:
            assert current is not None
            current["spec"].pop("ephemeralContainers")
            return current

        with pytest.raises(StatusError) as refused:
            await pods.update(ctx, "reader", remove_debugger, strategy)
        assert refused.value.code == 422
        assert 'existing ephemeral containers "debugger" may not be removed' in refused.value.message

        # The main endpoint may not add one either.
        async def add_through_main(current: JSON | None) -> JSON:
            assert current is not None
            current["spec"]["ephemeralContainers"].append(_debugger("second"))
            return current

        with pytest.raises(StatusError) as main_refused:
            await pods.update(RequestContext(namespace=NS), "reader", add_through_main)
        assert main_refused.value.code == 422

    asyncio.run(scenario())
