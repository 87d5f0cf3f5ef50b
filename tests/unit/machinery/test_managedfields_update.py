"""managedFields for create / update / status writes, checked against upstream's exact output."""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.machinery.managedfields import default_reset_paths, update_managed_fields
from kubeplane.machinery.schema import schemas

S = schemas("1.35")
T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:10:00Z"


def _deployment() -> dict[str, Any]:
    """`kubectl create deployment nginx --image=nginx` after server defaulting."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "uid": "u1", "generation": 1,
                     "creationTimestamp": T0, "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "resources": {},
                                    "terminationMessagePath": "/dev/termination-log",
                                    "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "securityContext": {}, "schedulerName": "default-scheduler",
                },
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


DEPLOYMENT_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                    "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    },
}


def _create(kind: tuple[str, str, str], obj: dict[str, Any], manager: str, *, has_status: bool = True,
            resource: str = "") -> dict[str, Any]:
    api_version = f"{kind[0]}/{kind[1]}" if kind[0] else kind[1]
    update_managed_fields(S, S.for_kind(*kind), obj, None, manager, api_version, now=T0,
                          reset_paths=default_reset_paths(resource, "", has_status))
    return obj


def _update(kind: tuple[str, str, str], old: dict[str, Any], new: dict[str, Any], manager: str, now: str,
            subresource: str = "", resource: str = "") -> dict[str, Any]:
    api_version = f"{kind[0]}/{kind[1]}" if kind[0] else kind[1]
    update_managed_fields(S, S.for_kind(*kind), new, old, manager, api_version, subresource=subresource,
                          now=now, reset_paths=default_reset_paths(resource, subresource, True))
    return new


DEPLOY = ("apps", "v1", "Deployment")
POD = ("", "v1", "Pod")


def test_create_deployment_matches_upstream_exactly() -> None:
    obj = _create(DEPLOY, _deployment(), "kubectl-create")
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": DEPLOYMENT_FIELDS,
    }]
    # Upstream's order: "." first, then children sorted.
    fields = obj["metadata"]["managedFields"][0]["fieldsV1"]
    assert list(fields["f:spec"]) == sorted(DEPLOYMENT_FIELDS["f:spec"])
    assert next(iter(fields["f:spec"]["f:strategy"]["f:rollingUpdate"])) == "."


def test_kubectl_apply_create_shape_from_brief() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                        "labels": {"app": "web"}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    _create(DEPLOY, obj, "kubectl-client-side-apply")
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                       "f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default", "uid": "p1", "labels": {"run": "app"}},
        "spec": {
            "containers": [{
                "name": "app", "image": "busybox", "command": ["sleep", "3600"],
                "env": [{"name": "MODE", "value": "prod"},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}],
                "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"},
                          {"containerPort": 53, "protocol": "UDP"}],
                "resources": {"limits": {"cpu": "500m"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "securityContext": {"capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "enableServiceLinks": True,
        },
        "status": {"phase": "Pending"},
    }


POD_CONTAINER_FIELDS = {
    ".": {}, "f:command": {},
    "f:env": {".": {}, 'k:{"name":"MODE"}': {".": {}, "f:name": {}, "f:value": {}},
              'k:{"name":"POD_IP"}': {".": {}, "f:name": {}, "f:valueFrom": {
                  ".": {}, "f:fieldRef": {}}}},
    "f:image": {}, "f:name": {},
    "f:ports": {".": {},
                'k:{"containerPort":53,"protocol":"UDP"}': {".": {}, "f:containerPort": {}, "f:protocol": {}},
                'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {},
                                                               "f:protocol": {}}},
    "f:resources": {".": {}, "f:limits": {".": {}, "f:cpu": {}}},
    "f:securityContext": {".": {}, "f:capabilities": {".": {}, "f:drop": {}}},
    "f:volumeMounts": {".": {}, 'k:{"mountPath":"/data"}': {".": {}, "f:mountPath": {}, "f:name": {}}},
}


def test_create_pod_with_env_ports_volumes() -> None:
    obj = _create(POD, _pod(), "kubectl-run", resource="pods")
    fields = obj["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields == {
        "f:metadata": {"f:labels": {".": {}, "f:run": {}}},
        "f:spec": {
            "f:containers": {'k:{"name":"app"}': POD_CONTAINER_FIELDS},
            "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:tolerations": {},
            "f:volumes": {".": {}, 'k:{"name":"data"}': {".": {}, "f:emptyDir": {}, "f:name": {}}},
        },
    }
    # Keys order numerically (53 before 8080), as upstream's value ordering does.
    ports = list(fields["f:spec"]["f:containers"]['k:{"name":"app"}']["f:ports"])
    assert ports == [".", 'k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":8080,"protocol":"TCP"}']


def test_create_service_and_configmap() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "web"},
                    "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"},
           "status": {"loadBalancer": {}}}
    _create(("", "v1", "Service"), svc, "kubectl-expose")
    assert svc["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {
        "f:internalTrafficPolicy": {},
        "f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:protocol": {},
                                                                "f:targetPort": {}}},
        "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}}}

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
          "data": {"a": "1", "b": "2"}}
    _create(("", "v1", "ConfigMap"), cm, "kubectl-create", has_status=False)
    assert cm["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}


def test_second_manager_takes_changed_fields_and_removals_leave_everyone() -> None:
    live = _create(DEPLOY, _deployment(), "kubectl-create")
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 3
    new["metadata"]["labels"]["tier"] = "web"
    del new["spec"]["template"]["spec"]["securityContext"]
    _update(DEPLOY, live, new, "kubectl-edit", T1)

    entries = {e["manager"]: e for e in new["metadata"]["managedFields"]}
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["kubectl-create", "kubectl-edit"]
    assert entries["kubectl-edit"]["time"] == T1
    assert entries["kubectl-edit"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:tier": {}}},
                                                   "f:spec": {"f:replicas": {}}}
    creator = entries["kubectl-create"]["fieldsV1"]
    assert entries["kubectl-create"]["time"] == T0
    assert "f:replicas" not in creator["f:spec"]
    assert "f:securityContext" not in creator["f:spec"]["f:template"]["f:spec"]
    assert "f:app" in creator["f:metadata"]["f:labels"]

    # The first manager changes the field back: ownership moves back, its time moves on.
    newer = copy.deepcopy(new)
    newer["spec"]["replicas"] = 1
    _update(DEPLOY, new, newer, "kubectl-create", T2)
    entries = {e["manager"]: e for e in newer["metadata"]["managedFields"]}
    assert entries["kubectl-create"]["time"] == T2
    assert "f:replicas" in entries["kubectl-create"]["fieldsV1"]["f:spec"]
    assert entries["kubectl-edit"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:tier": {}}}}


def test_no_op_update_keeps_entries_and_times() -> None:
    live = _create(DEPLOY, _deployment(), "kubectl-create")
    new = copy.deepcopy(live)
    new["metadata"]["resourceVersion"] = "42"  # stripped: never owned
    _update(DEPLOY, live, new, "someone-else", T1)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_removing_every_owned_field_drops_the_entry() -> None:
    cm = _create(("", "v1", "ConfigMap"), {"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": "c", "uid": "c1"}, "data": {"a": "1"}}, "one")
    second = copy.deepcopy(cm)
    second["data"]["b"] = "2"
    _update(("", "v1", "ConfigMap"), cm, second, "two", T1)
    third = copy.deepcopy(second)
    del third["data"]["a"]
    _update(("", "v1", "ConfigMap"), second, third, "two", T2)
    # "one" owned the data map and data.a; the map is still there, so "one" keeps it as a leaf.
    managers = {e["manager"]: e["fieldsV1"] for e in third["metadata"]["managedFields"]}
    assert managers == {"one": {"f:data": {}}, "two": {"f:data": {"f:b": {}}}}
    # Removing the map itself empties "one", whose entry disappears.
    fourth = copy.deepcopy(third)
    del fourth["data"]
    _update(("", "v1", "ConfigMap"), third, fourth, "two", T2)
    assert fourth["metadata"].get("managedFields") is None


def test_status_subresource_entries() -> None:
    live = _create(POD, _pod(), "kubectl-run", resource="pods")
    new = copy.deepcopy(live)
    new["status"] = {"phase": "Running", "podIP": "198.18.0.5",
                     "conditions": [{"type": "Ready", "status": "True"}]}
    _update(POD, live, new, "kubelet", T1, subresource="status", resource="pods")
    kubelet = [e for e in new["metadata"]["managedFields"] if e["manager"] == "kubelet"]
    assert kubelet == [{
        "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {"f:conditions": {".": {}, 'k:{"type":"Ready"}': {
            ".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}, "f:podIP": {}}},
        "subresource": "status",
    }]
    # A spec change sent through /status is a reset field there: nobody gains it.
    again = copy.deepcopy(new)
    again["spec"]["restartPolicy"] = "Never"
    _update(POD, new, again, "kubelet", T2, subresource="status", resource="pods")
    assert again["metadata"]["managedFields"] == new["metadata"]["managedFields"]


def test_main_endpoint_ignores_status() -> None:
    live = _create(POD, _pod(), "kubectl-run", resource="pods")
    assert "f:status" not in live["metadata"]["managedFields"][0]["fieldsV1"]


def test_update_entries_are_capped_at_ten() -> None:
    kind = ("", "v1", "ConfigMap")
    obj = _create(kind, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "c1"},
                         "data": {"base": "x"}}, "creator")
    for i in range(11):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = str(i)
        _update(kind, obj, new, f"m{i:02d}", f"2024-05-01T11:{i:02d}:00Z")
        obj = new
    entries = obj["metadata"]["managedFields"]
    assert len(entries) == 10
    # The oldest three (creator, m00, m01) merged into one bucket carrying the newest merged time.
    assert entries[0] == {
        "manager": "ancient-changes", "operation": "Update", "apiVersion": "v1", "time": "2024-05-01T11:01:00Z",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:base": {}, "f:k0": {}, "f:k1": {}}}}
    assert [e["manager"] for e in entries[1:]] == [f"m{i:02d}" for i in range(2, 11)]


def test_reset_with_empty_list_drops_tracking_on_update_and_starts_fresh_on_create() -> None:
    live = _create(DEPLOY, _deployment(), "kubectl-create")
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = []
    new["spec"]["replicas"] = 2
    _update(DEPLOY, live, new, "kubectl-edit", T1)
    assert "managedFields" not in new["metadata"]
    # ...and the object stays untracked on later updates, as upstream.
    newer = copy.deepcopy(new)
    newer["spec"]["replicas"] = 4
    _update(DEPLOY, new, newer, "kubectl-edit", T2)
    assert "managedFields" not in newer["metadata"]

    created = _deployment()
    created["metadata"]["managedFields"] = [{}]
    _create(DEPLOY, created, "kubectl-create")
    assert [e["manager"] for e in created["metadata"]["managedFields"]] == ["kubectl-create"]


def test_client_sent_entries_are_used_and_invalid_ones_fall_back_to_live() -> None:
    live = _create(DEPLOY, _deployment(), "kubectl-create")
    sent = [{"manager": "imported", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}]
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = sent
    _update(DEPLOY, live, new, "kubectl-replace", T1)
    assert new["metadata"]["managedFields"] == sent

    bad = copy.deepcopy(live)
    bad["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus", "apiVersion": "v1"}]
    _update(DEPLOY, live, bad, "kubectl-replace", T1)
    assert bad["metadata"]["managedFields"] == live["metadata"]["managedFields"]
