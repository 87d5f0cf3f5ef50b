"""Cluster-level printers: policy, scheduling, coordination, certificates, node, resource, internals."""

from __future__ import annotations

from typing import Any

from .cells import JSON, NONE, capped, count, dig, int_or_string, items, name_of, text
from .columns import AGE, NAME, Doc, boolean, integer, string
from .duration import Ages, human_duration
from .printer import Printer, Printers


def _disruption_budget(obj: JSON, ages: Ages) -> list[Any]:
    def bound(field: str) -> str:
        value = dig(obj, "spec", field)
        return int_or_string(value) if value is not None else "N/A"

    return [
        name_of(obj),
        bound("minAvailable"),
        bound("maxUnavailable"),
        count(obj, "status", "disruptionsAllowed"),
        ages.of(obj),
    ]


def _priority_class(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        count(obj, "value"),
        dig(obj, "globalDefault") is True,
        ages.of(obj),
        text(obj, "preemptionPolicy"),
    ]


def csr_condition(obj: JSON) -> str:
    """``extractCSRStatus``: Denied/Approved/Pending, then ",Failed" and ",Issued"."""
    types = {text(c, "type") for c in items(obj, "status", "conditions")}
    if "Denied" in types:
        status = "Denied"
    elif "Approved" in types:
        status = "Approved"
    else:
        status = "Pending"
    if "Failed" in types:
        status += ",Failed"
    if text(obj, "status", "certificate"):
        status += ",Issued"
    return status


def _certificate_signing_request(obj: JSON, ages: Ages) -> list[Any]:
    expiration = dig(obj, "spec", "expirationSeconds")
    return [
        name_of(obj),
        ages.of(obj),
        text(obj, "spec", "signerName") or NONE,
        text(obj, "spec", "username"),
        human_duration(expiration) if isinstance(expiration, int) else NONE,
        csr_condition(obj),
    ]


def _resource_claim_state(obj: JSON) -> str:
    states = []
    deleted = dig(obj, "metadata", "deletionTimestamp") is not None
    if deleted:
        states.append("deleted")
    if dig(obj, "status", "allocation") is None:
        if not deleted:
            states.append("pending")
    else:
        states.append("allocated")
        if items(obj, "status", "reservedFor"):
            states.append("reserved")
    return ",".join(states)


def _storage_version(obj: JSON, ages: Ages) -> list[Any]:
    versions = [
        f"{text(v, 'apiServerID')}={text(v, 'encodingVersion')}"
        for v in items(obj, "status", "storageVersions")
    ]
    return [
        name_of(obj),
        text(obj, "status", "commonEncodingVersion") or "<unset>",
        capped(versions, len(versions)),
        ages.of(obj),
    ]


PRINTERS: Printers = {
    ("policy", "poddisruptionbudgets"): Printer(
        (
            NAME,
            string("Min Available", "The minimum number of pods that must be available."),
            string("Max Unavailable", "The maximum number of pods that may be unavailable."),
            integer("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
            AGE,
        ),
        _disruption_budget,
    ),
    ("scheduling.k8s.io", "priorityclasses"): Printer(
        (
            NAME,
            integer("Value", Doc("scheduling.v1.PriorityClass", "value")),
            boolean("Global-Default", Doc("scheduling.v1.PriorityClass", "globalDefault")),
            AGE,
            string("PreemptionPolicy", Doc("scheduling.v1.PriorityClass", "preemptionPolicy")),
        ),
        _priority_class,
    ),
    ("coordination.k8s.io", "leases"): Printer(
        (NAME, string("Holder", Doc("coordination.v1.LeaseSpec", "holderIdentity")), AGE),
        lambda obj, ages: [name_of(obj), text(obj, "spec", "holderIdentity"), ages.of(obj)],
    ),
    ("coordination.k8s.io", "leasecandidates"): Printer(
        (
            NAME,
            string("LeaseName", Doc("coordination.v1beta1.LeaseCandidateSpec", "leaseName")),
            string("BinaryVersion", Doc("coordination.v1beta1.LeaseCandidateSpec", "binaryVersion")),
            string("EmulationVersion", Doc("coordination.v1beta1.LeaseCandidateSpec", "emulationVersion")),
            AGE,
        ),
        lambda obj, ages: [
            name_of(obj),
            text(obj, "spec", "leaseName"),
            text(obj, "spec", "binaryVersion"),
            text(obj, "spec", "emulationVersion"),
            ages.of(obj),
        ],
    ),
    ("certificates.k8s.io", "certificatesigningrequests"): Printer(
        (
            NAME,
            AGE,
            string("SignerName", Doc("certificates.v1.CertificateSigningRequestSpec", "signerName")),
            string("Requestor", Doc("certificates.v1.CertificateSigningRequestSpec", "request")),
            string(
                "RequestedDuration", Doc("certificates.v1.CertificateSigningRequestSpec", "expirationSeconds")
            ),
            string("Condition", Doc("certificates.v1.CertificateSigningRequestStatus", "conditions")),
        ),
        _certificate_signing_request,
    ),
    ("certificates.k8s.io", "clustertrustbundles"): Printer(
        (NAME, string("SignerName", Doc("certificates.v1beta1.ClusterTrustBundleSpec", "signerName"))),
        lambda obj, ages: [name_of(obj), text(obj, "spec", "signerName") or NONE],
    ),
    ("node.k8s.io", "runtimeclasses"): Printer(
        (NAME, string("Handler", Doc("node.v1.RuntimeClass", "handler")), AGE),
        lambda obj, ages: [name_of(obj), text(obj, "handler"), ages.of(obj)],
    ),
    ("apiserverinternal.k8s.io", "storageversions"): Printer(
        (
            NAME,
            string(
                "CommonEncodingVersion",
                Doc("apiserverinternal.v1alpha1.StorageVersionStatus", "commonEncodingVersion"),
            ),
            string(
                "StorageVersions", Doc("apiserverinternal.v1alpha1.StorageVersionStatus", "storageVersions")
            ),
            AGE,
        ),
        _storage_version,
    ),
    ("resource.k8s.io", "deviceclasses"): Printer(
        (NAME, AGE), lambda obj, ages: [name_of(obj), ages.of(obj)]
    ),
    ("resource.k8s.io", "resourceclaimtemplates"): Printer(
        (NAME, AGE), lambda obj, ages: [name_of(obj), ages.of(obj)]
    ),
    ("resource.k8s.io", "resourceclaims"): Printer(
        (
            NAME,
            string("State", "A summary of the current state (allocated, pending, reserved, etc.)."),
            AGE,
        ),
        lambda obj, ages: [name_of(obj), _resource_claim_state(obj), ages.of(obj)],
    ),
    ("resource.k8s.io", "resourceslices"): Printer(
        (
            NAME,
            string("Node", Doc("resource.v1.ResourceSliceSpec", "nodeName")),
            string("Driver", Doc("resource.v1.ResourceSliceSpec", "driver")),
            string("Pool", Doc("resource.v1.ResourcePool", "name")),
            AGE,
        ),
        lambda obj, ages: [
            name_of(obj),
            text(obj, "spec", "nodeName"),
            text(obj, "spec", "driver"),
            text(obj, "spec", "pool", "name"),
            ages.of(obj),
        ],
    ),
}
