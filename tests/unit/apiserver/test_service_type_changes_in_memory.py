"""Service type changes through the Service store (in memory): type-dependent fields are dropped or
filled as upstream's strategy does, and the allocators release and allocate what moves.

Upstream references (kubernetes/kubernetes):
- strategy.go: dropTypeDependentFields (with needsClusterIP, needsNodePort, needsHCNodePort,
  needsExternalTrafficPolicy, sameClusterIPs, sameNodePorts, sameHCNodePort, sameLoadBalancerClass),
  patchAllocatedValues, NormalizeClusterIPs;
- storage/alloc.go: allocateCreate, initNodePorts, updateClusterIPs, txnUpdateNodePorts,
  updateNodePorts, updateHealthCheckNodePort;
- apis/core/validation/validation.go: ValidateService, validateServiceExternalTrafficPolicy,
  validateServiceExternalTrafficFieldsUpdate, validateLoadBalancerClassField;
- apis/core/v1/defaults.go: SetDefaults_Service (on the decoded PUT body, before the strategy).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from kubeplane.apiserver.registry.allocator import AlreadyAllocatedError
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.core.service_fields import drop_type_dependent_fields, normalize_cluster_ips
from kubeplane.apiserver.registry.core.services import ServiceStore
from kubeplane.apiserver.registry.registry import Registry, RegistryConfig
from kubeplane.apiserver.registry.store import DeleteOptions
from kubeplane.catalog import Catalog
from kubeplane.machinery.errors import StatusError
from kubeplane.storage.memory import MemoryStorage

JSON = dict[str, Any]
NS = "svc-types"
TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
TRANSITIONS = [(a, b) for a in TYPES for b in TYPES if a != b]


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def services_store() -> ServiceStore:
    backend: dict[str, MemoryStorage] = {}

    def storage_for(prefix: str, info: Any) -> MemoryStorage:
        return backend.setdefault(prefix, MemoryStorage())

    registry = Registry(Catalog.for_version("1.35"), storage_for,
                        RegistryConfig(service_cidr="198.19.0.0/24", node_port_base=30000, node_port_size=200))
    await registry.core("namespaces").create(RequestContext(user="admin", groups=("system:masters",)), {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    store = registry.core("services")
    assert isinstance(store, ServiceStore)
    return store


def manifest(name: str, service_type: str, **spec: Any) -> JSON:
    body: JSON = {"type": service_type, **spec}
    if service_type == "ExternalName":
        body.setdefault("externalName", "db.example.com")
    else:
        body.setdefault("selector", {"app": name})
        body.setdefault("ports", [{"port": 80, "targetPort": 8080}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


async def create(store: ServiceStore, obj: JSON, dry_run: bool = False) -> JSON:
    store.strategy.default(obj)  # what the handler does to a decoded body
    created: JSON = await store.create(RequestContext(namespace=NS, dry_run=dry_run), obj)
    return created


async def put(store: ServiceStore, name: str, change: Callable[[JSON], None], dry_run: bool = False) -> JSON:
    """A PUT of the stored object with ``change`` applied, as `kubectl edit` sends it."""

    async def produce(current: JSON | None) -> JSON:
        assert current is not None
        body = copy.deepcopy(current)
        change(body)
        store.strategy.default(body)
        return body

    result, _ = await store.update(RequestContext(namespace=NS, dry_run=dry_run), name, produce)
    return result


def to_type(service_type: str) -> Callable[[JSON], None]:
    def change(obj: JSON) -> None:
        obj["spec"]["type"] = service_type
        if service_type == "ExternalName":
            obj["spec"]["externalName"] = "db.example.com"
        elif not obj["spec"].get("ports"):
            obj["spec"]["ports"] = [{"port": 80, "targetPort": 8080}]
    return change


async def ip_held(store: ServiceStore, ip: str) -> bool:
    try:
        await store.ip_allocator.allocate(ip)
    except AlreadyAllocatedError:
        return True
    await store.ip_allocator.release(ip)
    return False


async def port_held(store: ServiceStore, port: int) -> bool:
    try:
        await store.port_allocator.allocate(port)
    except AlreadyAllocatedError:
        return True
    await store.port_allocator.release(port)
    return False


def node_port(obj: JSON) -> int | None:
    value: int | None = obj["spec"]["ports"][0].get("nodePort") if obj["spec"].get("ports") else None
    return value


# -- the 4x4 matrix -------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after"), TRANSITIONS, ids=[f"{a}-to-{b}" for a, b in TRANSITIONS])
def test_every_type_change_drops_fills_and_frees_as_upstream(before: str, after: str) -> None:
    async def scenario() -> None:
        store = await services_store()
        extra = {"loadBalancerClass": "example.com/lb"} if before == "LoadBalancer" else {}
        created = await create(store, manifest("svc", before, **extra))
        old_ip = created["spec"].get("clusterIP")
        old_port = node_port(created)
        updated = await put(store, "svc", to_type(after))
        spec = updated["spec"]
        assert spec["type"] == after

        if after == "ExternalName":
            # dropTypeDependentFields: needsClusterIP(old) && !needsClusterIP(new) wipes the unchanged
            # clusterIP(s), ipFamilies and ipFamilyPolicy; updateClusterIPs (case B) releases the IP.
            for gone in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                assert gone not in spec
            assert not await ip_held(store, old_ip)
            # Upstream keeps internalTrafficPolicy on ExternalName (validateServiceInternalTrafficFieldsValue
            # tolerates it "because of historical reasons"; nothing drops it).
            assert spec.get("internalTrafficPolicy") == "Cluster"
        elif before == "ExternalName":
            # updateClusterIPs (case A) allocates; SetDefaults_Service gave the families on the PUT body.
            ip = spec["clusterIP"]
            assert spec["clusterIPs"] == [ip] and await ip_held(store, ip)
            assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        else:
            # clusterIP is immutable between the IP-carrying types (validateUpgradeDowngradeClusterIPs).
            assert spec["clusterIP"] == old_ip and await ip_held(store, old_ip)

        if after in ("NodePort", "LoadBalancer"):
            port = node_port(updated)
            assert port is not None and await port_held(store, port)
            if old_port is not None:
                # updateNodePorts keeps a node port the Service already holds.
                assert port == old_port
            # SetDefaults_Service: externalTrafficPolicy Cluster for NodePort/LoadBalancer.
            assert spec["externalTrafficPolicy"] == "Cluster"
        else:
            # dropTypeDependentFields wipes unchanged nodePorts and externalTrafficPolicy
            # (needsNodePort / needsExternalTrafficPolicy); txnUpdateNodePorts releases them.
            assert all("nodePort" not in p for p in spec.get("ports") or ())
            assert "externalTrafficPolicy" not in spec
            if old_port is not None:
                assert not await port_held(store, old_port)

        if after == "LoadBalancer":
            assert spec["allocateLoadBalancerNodePorts"] is True  # SetDefaults_Service
        else:
            # dropTypeDependentFields: unchanged allocateLoadBalancerNodePorts and loadBalancerClass
            # go when leaving LoadBalancer (sameLoadBalancerClass).
            assert "allocateLoadBalancerNodePorts" not in spec
            assert "loadBalancerClass" not in spec

        # Deleting releases what the final type holds, nothing more.
        await store.delete(RequestContext(namespace=NS), "svc", _delete_options())
        if spec.get("clusterIP"):
            assert not await ip_held(store, spec["clusterIP"])
        if node_port(updated):
            assert not await port_held(store, node_port(updated) or 0)

    run(scenario)


def _delete_options() -> DeleteOptions:
    return DeleteOptions()


# -- changed values are the client's: validation refuses them, nothing is released ---------------

def test_a_changed_node_port_kept_on_cluster_ip_is_refused() -> None:
    async def scenario() -> None:
        store = await services_store()
        created = await create(store, manifest("np", "NodePort"))
        held = node_port(created)
        assert held is not None

        def change(obj: JSON) -> None:
            obj["spec"]["type"] = "ClusterIP"
            obj["spec"]["ports"][0]["nodePort"] = 30150  # not one the Service had: sameNodePorts is false

        with pytest.raises(StatusError) as refused:
            await put(store, "np", change)
        causes = [(c.field, c.message) for c in refused.value.causes]
        assert ("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'") in causes
        assert await port_held(store, held) and not await port_held(store, 30150)

    run(scenario)


def test_a_changed_traffic_policy_kept_on_cluster_ip_is_refused() -> None:
    async def scenario() -> None:
        store = await services_store()
        await create(store, manifest("etp", "NodePort"))

        def change(obj: JSON) -> None:
            obj["spec"]["type"] = "ClusterIP"
            obj["spec"]["externalTrafficPolicy"] = "Local"  # changed: sameExternalTrafficPolicy is false

        with pytest.raises(StatusError) as refused:
            await put(store, "etp", change)
        assert "spec.externalTrafficPolicy" in [c.field for c in refused.value.causes]

    run(scenario)


def test_a_load_balancer_class_may_not_change_or_stay_off_load_balancer() -> None:
    async def scenario() -> None:
        store = await services_store()
        await create(store, manifest("cls", "LoadBalancer", loadBalancerClass="example.com/a"))

        def other_class(obj: JSON) -> None:
            obj["spec"]["loadBalancerClass"] = "example.com/b"

        with pytest.raises(StatusError) as refused:
            await put(store, "cls", other_class)
        assert [(c.field, c.message) for c in refused.value.causes] == [
            ("spec.loadBalancerClass", 'Invalid value: "example.com/b": may not change once set')]

        def node_port_with_new_class(obj: JSON) -> None:
            obj["spec"]["type"] = "NodePort"
            obj["spec"]["loadBalancerClass"] = "example.com/b"

        with pytest.raises(StatusError) as refused:
            await put(store, "cls", node_port_with_new_class)
        assert ("spec.loadBalancerClass", "Forbidden: may only be used when `type` is 'LoadBalancer'") in \
            [(c.field, c.message) for c in refused.value.causes]

    run(scenario)


def test_a_new_cluster_ip_on_the_way_to_external_name_is_refused_and_the_old_one_kept() -> None:
    async def scenario() -> None:
        store = await services_store()
        created = await create(store, manifest("ip", "ClusterIP"))
        ip = created["spec"]["clusterIP"]

        def change(obj: JSON) -> None:
            to_type("ExternalName")(obj)
            obj["spec"]["clusterIP"] = "198.19.0.200"
            obj["spec"]["clusterIPs"] = ["198.19.0.200"]

        with pytest.raises(StatusError):
            await put(store, "ip", change)
        assert await ip_held(store, ip)

    run(scenario)


def test_external_name_refuses_family_fields_the_client_sets() -> None:
    async def scenario() -> None:
        store = await services_store()
        with pytest.raises(StatusError) as refused:
            await create(store, manifest("fam", "ExternalName", ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"))
        assert [(c.field, c.message) for c in refused.value.causes] == [
            ("spec.ipFamilies", "Forbidden: may not be set for ExternalName services"),
            ("spec.ipFamilyPolicy", "Forbidden: may not be set for ExternalName services")]

    run(scenario)


# -- health-check node ports (LoadBalancer with externalTrafficPolicy Local) ----------------------

def test_health_check_node_port_follows_the_type_and_policy() -> None:
    async def scenario() -> None:
        store = await services_store()
        # allocateCreate -> txnAllocNodePorts -> allocHealthCheckNodePort.
        created = await create(store, manifest("hc", "LoadBalancer", externalTrafficPolicy="Local"))
        hc_port = created["spec"]["healthCheckNodePort"]
        assert await port_held(store, hc_port) and hc_port != node_port(created)

        def change_hc(obj: JSON) -> None:
            obj["spec"]["healthCheckNodePort"] = hc_port + 1

        # validateServiceExternalTrafficFieldsUpdate: immutable while both need it.
        with pytest.raises(StatusError) as refused:
            await put(store, "hc", change_hc)
        assert [(c.field, c.message) for c in refused.value.causes] == [
            ("spec.healthCheckNodePort", "Forbidden: field is immutable")]

        # LoadBalancer/Local -> NodePort: sameHCNodePort, so wiped; updateHealthCheckNodePort case 2 frees it.
        moved = await put(store, "hc", to_type("NodePort"))
        assert "healthCheckNodePort" not in moved["spec"] and not await port_held(store, hc_port)
        assert moved["spec"]["externalTrafficPolicy"] == "Local"  # NodePort still uses the policy

        # NodePort/Local -> LoadBalancer: case 1 allocates a new one.
        back = await put(store, "hc", to_type("LoadBalancer"))
        assert await port_held(store, back["spec"]["healthCheckNodePort"])

        # Local -> Cluster on the same LoadBalancer also releases it.
        def cluster_policy(obj: JSON) -> None:
            obj["spec"]["externalTrafficPolicy"] = "Cluster"

        cluster = await put(store, "hc", cluster_policy)
        assert "healthCheckNodePort" not in cluster["spec"]
        assert not await port_held(store, back["spec"]["healthCheckNodePort"])

        # ValidateService: a health-check port on a Service that needs none is invalid.
        def stray_hc(obj: JSON) -> None:
            obj["spec"]["healthCheckNodePort"] = 30190

        with pytest.raises(StatusError) as refused:
            await put(store, "hc", stray_hc)
        assert refused.value.causes[0].field == "spec.healthCheckNodePort"
        assert "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'" in \
            refused.value.causes[0].message

    run(scenario)


# -- node ports: opting out, sharing, replacing without allocated values ---------------------------

def test_load_balancer_without_node_ports_allocates_none_but_honours_requests() -> None:
    async def scenario() -> None:
        store = await services_store()
        lb = manifest("nonp", "LoadBalancer", allocateLoadBalancerNodePorts=False,
                      ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30123}])
        created = await create(store, lb)  # shouldAllocateNodePorts is false
        assert "nodePort" not in created["spec"]["ports"][0]
        assert created["spec"]["ports"][1]["nodePort"] == 30123 and await port_held(store, 30123)

    run(scenario)


def test_ports_sharing_a_number_share_a_node_port_on_create() -> None:
    async def scenario() -> None:
        store = await services_store()
        dns = manifest("dns", "NodePort", ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                                                 {"name": "dns-tcp", "port": 53, "protocol": "TCP"}])
        created = await create(store, dns)  # initNodePorts maps by service port number
        first, second = (p["nodePort"] for p in created["spec"]["ports"])
        assert first == second and await port_held(store, first)

    run(scenario)


def test_replacing_without_allocated_values_keeps_them() -> None:
    async def scenario() -> None:
        store = await services_store()
        created = await create(store, manifest("keep", "LoadBalancer", externalTrafficPolicy="Local",
                                               ports=[{"name": "web", "port": 80}]))

        def hand_written(obj: JSON) -> None:
            # patchAllocatedValues: clusterIP(s), nodePorts (by port name, even if the port changed)
            # and healthCheckNodePort come back from the stored object.
            for key in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
                obj["spec"].pop(key)
            obj["spec"]["ports"] = [{"name": "web", "port": 8080}]

        replaced = await put(store, "keep", hand_written)
        for key in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
            assert replaced["spec"][key] == created["spec"][key]
        assert node_port(replaced) == node_port(created)

    run(scenario)


# -- dry runs and retried writes keep the allocators exact ---------------------------------------

def test_a_dry_run_type_change_moves_nothing() -> None:
    async def scenario() -> None:
        store = await services_store()
        created = await create(store, manifest("dry", "NodePort"))
        port, ip = node_port(created), created["spec"]["clusterIP"]
        shown = await put(store, "dry", to_type("ExternalName"), dry_run=True)
        assert "clusterIP" not in shown["spec"]
        assert await ip_held(store, ip) and await port_held(store, port or 0)

        free_before = [p for p in range(30000, 30200) if not await port_held(store, p)]
        await put(store, "dry", to_type("LoadBalancer"), dry_run=True)
        assert [p for p in range(30000, 30200) if not await port_held(store, p)] == free_before

    run(scenario)


def test_a_retried_update_frees_what_its_failed_attempt_allocated() -> None:
    async def scenario() -> None:
        store = await services_store()
        await create(store, manifest("retry", "ClusterIP"))
        attempts = 0
        ctx = RequestContext(namespace=NS)

        async def produce(current: JSON | None) -> JSON:
            nonlocal attempts
            attempts += 1
            assert current is not None
            if attempts == 1:
                # Someone else writes in between: this attempt's compare-and-swap fails.
                async def label(other: JSON | None) -> JSON:
                    assert other is not None
                    other["metadata"]["labels"] = {"touched": "yes"}
                    return other
                await store.update(RequestContext(namespace=NS), "retry", label)
            body = copy.deepcopy(current)
            to_type("NodePort")(body)
            store.strategy.default(body)
            return body

        free_before = {p for p in range(30000, 30200) if not await port_held(store, p)}
        result, _ = await store.update(ctx, "retry", produce)
        assert attempts == 2
        free_after = {p for p in range(30000, 30200) if not await port_held(store, p)}
        # Exactly one port left the free set: the one the stored Service holds.
        assert free_before - free_after == {node_port(result)}

    run(scenario)


# -- the strategy's helpers on their own -----------------------------------------------------------

def test_normalize_cluster_ips_reads_what_the_client_meant() -> None:
    old = {"spec": {"clusterIP": "198.19.0.9", "clusterIPs": ["198.19.0.9"]}}
    cleared = {"spec": {"clusterIP": "", "clusterIPs": ["198.19.0.9"]}}
    normalize_cluster_ips(cleared, old)
    assert "clusterIPs" not in cleared["spec"]
    singular_only = {"spec": {"clusterIP": "198.19.0.9"}}
    normalize_cluster_ips(singular_only, old)
    assert singular_only["spec"]["clusterIPs"] == ["198.19.0.9"]
    headless = {"spec": {"clusterIP": "None"}}
    normalize_cluster_ips(headless, {"spec": {"type": "ExternalName"}})
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_drop_keeps_what_the_new_type_still_uses_and_clears_load_balancer_status() -> None:
    old: JSON = {"spec": {"type": "LoadBalancer", "clusterIP": "198.19.0.9", "clusterIPs": ["198.19.0.9"],
                    "ports": [{"port": 80, "nodePort": 30001}], "externalTrafficPolicy": "Cluster",
                    "allocateLoadBalancerNodePorts": True},
           "status": {"loadBalancer": {"ingress": [{"ip": "198.18.9.9"}]}}}
    new = copy.deepcopy(old)
    new["spec"]["type"] = "NodePort"
    drop_type_dependent_fields(new, old)
    assert new["spec"]["ports"][0]["nodePort"] == 30001 and new["spec"]["externalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in new["spec"]
    assert new["status"]["loadBalancer"] == {}
    # Creates are never touched (the drop only runs on updates).
    assert old["spec"]["allocateLoadBalancerNodePorts"] is True
