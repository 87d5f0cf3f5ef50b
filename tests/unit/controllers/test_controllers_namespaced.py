"""The namespace controller, the default ServiceAccount and the kube-root-ca.crt publisher."""

from __future__ import annotations

from typing import Any

from kubeplane.client.resource import CONFIGMAPS, NAMESPACES, PODS, SERVICEACCOUNTS
from kubeplane.controllers.namespace import NamespaceController
from kubeplane.controllers.rootcapublisher import ROOT_CA_CONFIGMAP, RootCAPublisher
from kubeplane.controllers.serviceaccount import ServiceAccountController

JSON = dict[str, Any]


def namespace(name: str, terminating: bool = False) -> JSON:
    obj: JSON = {"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    if terminating:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        obj["status"]["phase"] = "Terminating"
    return obj


def discovery(api: Any) -> None:
    api.discovery["/api/v1"] = {"resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["list", "delete", "deletecollection"]},
        {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get", "update"]},
        {"name": "configmaps", "namespaced": True, "kind": "ConfigMap", "verbs": ["list", "delete"]},
        {"name": "namespaces", "namespaced": False, "kind": "Namespace", "verbs": ["list", "delete"]}]}
    api.discovery["/apis"] = {"groups": []}


async def test_namespace_is_emptied_then_finalized(api: Any, ctx: Any) -> None:
    discovery(api)
    controller = NamespaceController(ctx)
    api.put(NAMESPACES, namespace("doomed", terminating=True))
    api.put(NAMESPACES, namespace("kept"))
    for ns in ("doomed", "kept"):
        api.put(PODS, {"metadata": {"name": "p", "namespace": ns}})
        api.put(CONFIGMAPS, {"metadata": {"name": "c", "namespace": ns}})
    api.feed(ctx.informers, NAMESPACES)
    await controller.sync("doomed")
    assert [(o["metadata"]["namespace"]) for o in api.all(PODS) + api.all(CONFIGMAPS)] == ["kept", "kept"]
    assert (await api.get(NAMESPACES, "doomed"))["spec"]["finalizers"] == []
    assert ("update/finalize", "namespaces", "doomed") in api.writes
    await controller.sync("kept")  # not being deleted: untouched
    assert (await api.get(NAMESPACES, "kept"))["spec"]["finalizers"] == ["kubernetes"]


async def test_content_still_terminating_delays_finalize(api: Any, ctx: Any) -> None:
    discovery(api)
    controller = NamespaceController(ctx)
    api.put(NAMESPACES, namespace("doomed", terminating=True))
    api.put(PODS, {"metadata": {"name": "p", "namespace": "doomed", "deletionTimestamp": "2026-01-01T00:00:30Z",
                                "deletionGracePeriodSeconds": 30}})
    api.discovery["/api/v1"]["resources"][0]["verbs"] = ["list", "delete"]  # no collection delete
    api.feed(ctx.informers, NAMESPACES)
    original_delete = api.delete

    async def graceful_delete(resource: Any, name: str, namespace: str | None = None, **kw: Any) -> JSON:
        if resource == PODS:
            return await api.get(resource, name, namespace)  # a kubelet still has to stop it
        return await original_delete(resource, name, namespace, **kw)

    api.delete = graceful_delete
    await controller.sync("doomed")
    assert (await api.get(NAMESPACES, "doomed"))["spec"]["finalizers"] == ["kubernetes"]
    assert controller.queue.waiting() == 1


async def test_default_service_account_in_active_namespaces_only(api: Any, ctx: Any) -> None:
    controller = ServiceAccountController(ctx)
    api.put(NAMESPACES, namespace("new"))
    api.put(NAMESPACES, namespace("going", terminating=True))
    api.feed(ctx.informers, NAMESPACES, SERVICEACCOUNTS)
    await controller.sync("new")
    await controller.sync("going")
    assert [(sa["metadata"]["namespace"], sa["metadata"]["name"]) for sa in api.all(SERVICEACCOUNTS)] == \
        [("new", "default")]
    api.feed(ctx.informers, SERVICEACCOUNTS)
    await controller.sync("new")
    assert api.count("create", "serviceaccounts") == 1


async def test_root_ca_published_and_repaired(api: Any, ctx: Any) -> None:
    controller = RootCAPublisher(ctx)
    api.put(NAMESPACES, namespace("new"))
    api.feed(ctx.informers, NAMESPACES)
    await controller.sync("new")
    configmap = await api.get(CONFIGMAPS, ROOT_CA_CONFIGMAP, "new")
    assert configmap["data"] == {"ca.crt": "CA PEM"}
    assert "kubernetes.io/description" in configmap["metadata"]["annotations"]
    api.objects[(CONFIGMAPS, "new", ROOT_CA_CONFIGMAP)]["data"] = {"ca.crt": "tampered"}
    informer = ctx.informers.informer_for(CONFIGMAPS, field_selector=f"metadata.name={ROOT_CA_CONFIGMAP}")
    informer.indexer.replace(api.all(CONFIGMAPS))
    await controller.sync("new")
    assert (await api.get(CONFIGMAPS, ROOT_CA_CONFIGMAP, "new"))["data"] == {"ca.crt": "CA PEM"}
