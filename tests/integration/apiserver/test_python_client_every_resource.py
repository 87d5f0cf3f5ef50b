"""The official `kubernetes` Python client's DynamicClient (discovery, then plain CRUD) over every
built-in resource the issue lists: create, get, list with a label selector, merge and strategic
patch, replace, watch one event, delete. A client that works by discovery alone exercises our
discovery documents, resource paths and status codes the way operators built on it do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from apiserver_process import kube_client
from test_apiserver_resources import KINDS, Kind

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dynamic(apiserver: Any) -> Iterator[Any]:
    from kubernetes.dynamic import DynamicClient

    _, api_client = kube_client(apiserver)
    yield DynamicClient(api_client)
    api_client.close()


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_dynamic_client_crud(dynamic: Any, namespace: str, kind: Kind) -> None:
    from kubernetes.dynamic.exceptions import NotFoundError

    resource = dynamic.resources.get(api_version=kind.api_version, kind=kind.kind)
    assert resource.namespaced == kind.namespaced
    scope = {"namespace": namespace} if kind.namespaced else {}
    name = f"dyn-{uuid.uuid4().hex[:8]}"
    body = kind.manifest(name)
    body["metadata"]["labels"] = {"suite": name}
    created = resource.create(body=body, **scope)
    assert created.metadata.name == name and created.metadata.uid
    try:
        got = resource.get(name=name, **scope)
        assert got.metadata.uid == created.metadata.uid
        listed = resource.get(label_selector=f"suite={name}", **scope)
        assert [item.metadata.name for item in listed.items] == [name]
        patched = resource.patch(name=name, body={"metadata": {"annotations": {"merge": "yes"}}},
                                 content_type="application/merge-patch+json", **scope)
        assert patched.metadata.annotations["merge"] == "yes"
        patched = resource.patch(name=name, body={"metadata": {"annotations": {"strategic": "yes"}}},
                                 content_type="application/strategic-merge-patch+json", **scope)
        assert dict(patched.metadata.annotations) == {"merge": "yes", "strategic": "yes"}
        current = patched.to_dict()
        current["metadata"]["labels"]["replaced"] = "yes"
        replaced = resource.replace(body=current, **scope)
        assert replaced.metadata.labels["replaced"] == "yes"
        assert int(replaced.metadata.resourceVersion) > int(created.metadata.resourceVersion)
        for event in resource.watch(label_selector=f"suite={name}", resource_version=created.metadata.resourceVersion,
                                    timeout=10, **scope):
            if event["type"] == "MODIFIED":
                assert event["object"].metadata.name == name
                break
        else:
            pytest.fail("the watch ended without the object's modification")
    finally:
        # Background: RCs and Jobs default to orphaning (upstream), which waits for a garbage collector.
        resource.delete(name=name, body={"gracePeriodSeconds": 0, "propagationPolicy": "Background"}, **scope)
    if kind.kind != "Namespace":  # a namespace is Terminating until the controller manager empties it
        with pytest.raises(NotFoundError):
            resource.get(name=name, **scope)
