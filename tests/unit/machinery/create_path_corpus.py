"""Objects for the equivalence tests of the compiled create path (schema check, pruning,
managedFields): realistic objects of several kinds, random pods, and random damage to them."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from kubeplane.machinery import defaults

JSON = dict[str, Any]
MINOR = "1.35"


def checkout_pod(name: str = "checkout-0") -> JSON:
    """The API server bench's pod: labels, annotations, env, resources, probes, mounts, tolerations."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop",
                     "labels": {"app.kubernetes.io/name": "checkout", "tier": "backend"},
                     "annotations": {"prometheus.io/scrape": "true", "a<b>&c": "x"}},
        "spec": {
            "containers": [{
                "name": "app", "image": "registry.example.com/shop/checkout:1.42.3",
                "args": ["--listen=:8080", "--metrics=:9090"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                          {"containerPort": 9090, "protocol": "UDP"}],
                "env": [{"name": "DATABASE_HOST", "value": "postgres"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "DATABASE_HOST", "value": "repeated"}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": 1}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
                "livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 10},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": True}],
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
            }, {"name": "sidecar", "image": "envoy:1.30", "resources": {}}],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "volumes": [{"name": "config", "configMap": {"name": "checkout-config", "items": [
                {"key": "a", "path": "a"}]}}, {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                           "whenUnsatisfiable": "DoNotSchedule",
                                           "labelSelector": {"matchLabels": {"app": "x"}}}],
            "terminationGracePeriodSeconds": 30,
        },
        "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
    }


def deployment() -> JSON:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["x/y"],
                         "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "1"}]},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx",
                                                           "ports": [{"containerPort": 80}]}]}}}}


def service() -> JSON:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "type": "NodePort", "clusterIPs": ["198.19.0.9"],
                     "ipFamilies": ["IPv4"],
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                               {"name": "dns", "port": 53, "protocol": "UDP"}]}}


def config_map() -> JSON:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"a.conf": "x=1", "b": ""}, "binaryData": {"c": "AAEC"}}


def cluster_role() -> JSON:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}}


def job() -> JSON:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "default"},
            "spec": {"completions": 2, "backoffLimit": 1,
                     "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
                         {"type": "DisruptionTarget", "status": "True"}]}]},
                     "template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}}}


def node() -> JSON:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"zone": "a"}},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}], "podCIDRs": ["198.18.0.0/24"]},
            "status": {"capacity": {"cpu": "4", "pods": "110"}, "addresses": [
                {"type": "InternalIP", "address": "198.18.0.1"}, {"type": "Hostname", "address": "n1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "conditions": [{"type": "Ready", "status": "True"}]}}


KIND_OF = {"Pod": ("", "v1"), "Deployment": ("apps", "v1"), "Service": ("", "v1"), "ConfigMap": ("", "v1"),
           "ClusterRole": ("rbac.authorization.k8s.io", "v1"), "Job": ("batch", "v1"), "Node": ("", "v1")}


def random_pod(rng: random.Random, index: int) -> JSON:
    """A pod with a random selection of containers, env, ports, volumes and scheduling fields."""
    pod = checkout_pod(f"random-{index}")
    spec = pod["spec"]
    containers = []
    for c in range(rng.randint(1, 3)):
        container: JSON = {"name": f"c{c}", "image": rng.choice(["busybox", "nginx:1.25", "a/b:c"])}
        if rng.random() < 0.7:
            container["env"] = [{"name": rng.choice(["A", "B", "C", "D"]), "value": str(rng.randint(0, 9))}
                                for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.6:
            container["ports"] = [{"containerPort": rng.choice([80, 443, 8080, 53]),
                                   "protocol": rng.choice(["TCP", "UDP", "SCTP"])}
                                  for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.5:
            container["resources"] = {"limits": {"cpu": rng.choice(["1", "500m", 2]), "memory": "1Gi"}}
        if rng.random() < 0.3:
            container["command"] = ["sleep", str(rng.randint(1, 100))]
        if rng.random() < 0.3:
            container["securityContext"] = {"runAsUser": rng.randint(0, 1000), "privileged": rng.random() < 0.5}
        containers.append(container)
    spec["containers"] = containers
    for optional in ("initContainers", "affinity", "topologySpreadConstraints", "tolerations", "volumes"):
        if rng.random() < 0.4:
            spec.pop(optional, None)
    if rng.random() < 0.3:
        spec["hostAliases"] = [{"ip": "198.18.0.9", "hostnames": ["a", "b"]}]
    if rng.random() < 0.3:
        spec["readinessGates"] = [{"conditionType": "x/y"}]
    if rng.random() < 0.5:
        pod.pop("status", None)
    return pod


def corpus(seed: int = 7, random_pods: int = 40) -> Iterator[tuple[str, JSON]]:
    """(kind, object) pairs: each realistic object as written and defaulted, then random pods."""
    makers = (checkout_pod, deployment, service, config_map, cluster_role, job, node)
    for make in makers:
        obj = make()
        yield obj["kind"], obj
        group, version = KIND_OF[obj["kind"]]
        defaulted = copy.deepcopy(obj)
        defaults.apply(group, version, obj["kind"], defaulted, MINOR)
        yield obj["kind"], defaulted
    rng = random.Random(seed)
    for i in range(random_pods):
        pod = random_pod(rng, i)
        if i % 2:
            defaults.apply("", "v1", "Pod", pod, MINOR)
        yield "Pod", pod


_ODD_VALUES: tuple[Any, ...] = (None, 0, -3, 1.5, True, "", "text", "12Mi", "bad quantity", [], [1, "a"], {},
                                {"unknown": 1}, [{"x": None}])


def _locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _locations(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _locations(child, (*path, i))


def damaged(obj: JSON, rng: random.Random, edits: int = 3) -> JSON:
    """A copy with a few random edits: values replaced by odd ones, keys removed, unknown keys added."""
    out = copy.deepcopy(obj)
    for _ in range(edits):
        places = [p for p in _locations(out) if p]
        if not places:
            break
        path = rng.choice(places)
        parent: Any = out
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = rng.random()
        if action < 0.6:
            parent[last] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif action < 0.8 and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[f"unknownField{rng.randint(0, 9)}"] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return out
