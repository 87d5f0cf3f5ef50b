"""Server-side printing (`as=Table`) for every served built-in resource with
upstream's column definitions (pkg/printers/internalversion/printers.go; resources without a
printer get the default convertor's Name / Created At), and `kubectl get -o wide` for each."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from test_apiserver_resources import KINDS, Kind, create, expect

pytestmark = pytest.mark.integration

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
CONTAINERS = ["Containers", "Images", "Selector"]
EVENT = ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"]
HPA = ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
BINDING = ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
WEBHOOKS = ["Name", "Webhooks", "Age"]
DEFAULT = ["Name", "Created At"]

COLUMNS: dict[str, list[str]] = {
    "core-namespaces": ["Name", "Status", "Age"],
    "core-pods": ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"],
    "core-services": ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"],
    "core-endpoints": ["Name", "Endpoints", "Age"],
    "core-configmaps": ["Name", "Data", "Age"],
    "core-secrets": ["Name", "Type", "Data", "Age"],
    "core-serviceaccounts": ["Name", "Secrets", "Age"],
    "core-nodes": ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
                   "Kernel-Version", "Container-Runtime"],
    "core-events": EVENT,
    "core-persistentvolumes": ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
                               "VolumeAttributesClass", "Reason", "Age", "VolumeMode"],
    "core-persistentvolumeclaims": ["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                                    "VolumeAttributesClass", "Age", "VolumeMode"],
    "core-limitranges": DEFAULT,
    "core-resourcequotas": ["Name", "Request", "Limit", "Age"],
    "core-replicationcontrollers": ["Name", "Desired", "Current", "Ready", "Age", *CONTAINERS],
    "core-podtemplates": ["Name", "Containers", "Images", "Pod Labels"],
    "apps-deployments": ["Name", "Ready", "Up-to-date", "Available", "Age", *CONTAINERS],
    "apps-replicasets": ["Name", "Desired", "Current", "Ready", "Age", *CONTAINERS],
    "apps-statefulsets": ["Name", "Ready", "Age", "Containers", "Images"],
    "apps-daemonsets": ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
                        *CONTAINERS],
    "apps-controllerrevisions": ["Name", "Controller", "Revision", "Age"],
    "batch-jobs": ["Name", "Status", "Completions", "Duration", "Age", *CONTAINERS],
    "batch-cronjobs": ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", *CONTAINERS],
    "coordination-leases": ["Name", "Holder", "Age"],
    "discovery-endpointslices": ["Name", "AddressType", "Ports", "Endpoints", "Age"],
    "events-events": EVENT,
    "policy-poddisruptionbudgets": ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"],
    "rbac-roles": DEFAULT,
    "rbac-rolebindings": BINDING,
    "rbac-clusterroles": DEFAULT,
    "rbac-clusterrolebindings": BINDING,
    "networking-ingresses": ["Name", "Class", "Hosts", "Address", "Ports", "Age"],
    "networking-ingressclasses": ["Name", "Controller", "Parameters", "Age"],
    "networking-networkpolicies": ["Name", "Pod-Selector", "Age"],
    "storage-storageclasses": ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion",
                               "Age"],
    "scheduling-priorityclasses": ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
    "autoscaling-v1-horizontalpodautoscalers": HPA,
    "autoscaling-v2-horizontalpodautoscalers": HPA,
    "certificates-certificatesigningrequests": ["Name", "Age", "SignerName", "Requestor", "RequestedDuration",
                                                "Condition"],
    "admissionregistration-mutatingwebhookconfigurations": WEBHOOKS,
    "admissionregistration-validatingwebhookconfigurations": WEBHOOKS,
}


def test_every_served_kind_has_expected_columns() -> None:
    assert sorted(COLUMNS) == sorted(KINDS)


@pytest.mark.parametrize("kind_id", list(KINDS))
def test_table_columns_match_upstream(apiserver: Any, namespace: str, kind_id: str) -> None:
    kind: Kind = KINDS[kind_id]
    name = f"{kind.resource[:10]}-{uuid.uuid4().hex[:8]}"
    create(apiserver, kind, namespace, name)
    table = expect(apiserver.request("GET", kind.item(namespace, name), headers={"Accept": TABLE}), 200)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == COLUMNS[kind_id]
    [row] = table["rows"]
    assert len(row["cells"]) == len(COLUMNS[kind_id])
    name_index = COLUMNS[kind_id].index("Name")
    assert row["cells"][name_index] == name
    # kubectl's view of it, wide columns included.
    scope = ("-n", namespace) if kind.namespaced else ()
    version = kind.api_version.rpartition("/")[2]
    resource = f"{kind.resource}.{version}.{kind.group}" if kind.group else kind.resource
    out = apiserver.kubectl("get", resource, name, *scope, "-o", "wide").stdout.splitlines()
    assert out[0].split() == " ".join(COLUMNS[kind_id]).upper().split()
