"""storage.k8s.io printers."""

from __future__ import annotations

from typing import Any

from .cells import JSON, NONE, UNSET, dig, items, mapping, name_of, text
from .columns import AGE, NAME, Column, Doc, boolean, integer, string
from .duration import Ages
from .printer import Printer, Printers

_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _flag(obj: JSON, default: bool, *path: str) -> bool:
    value = dig(obj, *path)
    return value if isinstance(value, bool) else default


def _storage_class(obj: JSON, ages: Ages) -> list[Any]:
    annotations = mapping(obj, "metadata", "annotations")
    is_default = any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS)
    return [
        name_of(obj) + (" (default)" if is_default else ""),
        text(obj, "provisioner"),
        text(obj, "reclaimPolicy") or "Delete",
        text(obj, "volumeBindingMode") or "Immediate",
        _flag(obj, False, "allowVolumeExpansion"),
        ages.of(obj),
    ]


def _csi_driver(obj: JSON, ages: Ages) -> list[Any]:
    token_requests = UNSET
    if isinstance(dig(obj, "spec", "tokenRequests"), list):
        token_requests = ",".join(text(t, "audience") for t in items(obj, "spec", "tokenRequests"))
    return [
        name_of(obj),
        _flag(obj, True, "spec", "attachRequired"),
        _flag(obj, False, "spec", "podInfoOnMount"),
        _flag(obj, False, "spec", "storageCapacity"),
        token_requests,
        _flag(obj, False, "spec", "requiresRepublish"),
        ",".join(map(str, items(obj, "spec", "volumeLifecycleModes"))) or NONE,
        ages.of(obj),
    ]


def _volume_attachment(obj: JSON, ages: Ages) -> list[Any]:
    return [
        name_of(obj),
        text(obj, "spec", "attacher"),
        text(obj, "spec", "source", "persistentVolumeName"),
        text(obj, "spec", "nodeName"),
        _flag(obj, False, "status", "attached"),
        ages.of(obj),
    ]


PRINTERS: Printers = {
    ("storage.k8s.io", "storageclasses"): Printer(
        (
            NAME,
            string("Provisioner", Doc("storage.v1.StorageClass", "provisioner")),
            string("ReclaimPolicy", Doc("storage.v1.StorageClass", "reclaimPolicy")),
            string("VolumeBindingMode", Doc("storage.v1.StorageClass", "volumeBindingMode")),
            string("AllowVolumeExpansion", Doc("storage.v1.StorageClass", "allowVolumeExpansion")),
            AGE,
        ),
        _storage_class,
    ),
    ("storage.k8s.io", "volumeattributesclasses"): Printer(
        (NAME, string("DriverName", Doc("storage.v1.VolumeAttributesClass", "driverName")), AGE),
        lambda obj, ages: [name_of(obj), text(obj, "driverName"), ages.of(obj)],
    ),
    ("storage.k8s.io", "csinodes"): Printer(
        (NAME, integer("Drivers", "Drivers indicates the number of CSI drivers registered on the node"), AGE),
        lambda obj, ages: [name_of(obj), len(items(obj, "spec", "drivers")), ages.of(obj)],
    ),
    ("storage.k8s.io", "csidrivers"): Printer(
        (
            NAME,
            boolean("AttachRequired", Doc("storage.v1.CSIDriverSpec", "attachRequired")),
            boolean("PodInfoOnMount", Doc("storage.v1.CSIDriverSpec", "podInfoOnMount")),
            boolean("StorageCapacity", Doc("storage.v1.CSIDriverSpec", "storageCapacity")),
            string("TokenRequests", Doc("storage.v1.CSIDriverSpec", "tokenRequests")),
            boolean("RequiresRepublish", Doc("storage.v1.CSIDriverSpec", "requiresRepublish")),
            string("Modes", Doc("storage.v1.CSIDriverSpec", "volumeLifecycleModes")),
            AGE,
        ),
        _csi_driver,
    ),
    ("storage.k8s.io", "csistoragecapacities"): Printer(
        (
            NAME,
            string("StorageClassName", Doc("storage.v1.CSIStorageCapacity", "storageClassName")),
            string("Capacity", Doc("storage.v1.CSIStorageCapacity", "capacity")),
        ),
        lambda obj, ages: [
            name_of(obj),
            text(obj, "storageClassName"),
            str(obj["capacity"]) if obj.get("capacity") is not None else UNSET,
        ],
    ),
    ("storage.k8s.io", "volumeattachments"): Printer(
        (
            NAME,
            Column("Attacher", "string", Doc("storage.v1.VolumeAttachmentSpec", "attacher"), format="name"),
            string("PV", Doc("storage.v1.VolumeAttachmentSource", "persistentVolumeName")),
            string("Node", Doc("storage.v1.VolumeAttachmentSpec", "nodeName")),
            boolean("Attached", Doc("storage.v1.VolumeAttachmentStatus", "attached")),
            AGE,
        ),
        _volume_attachment,
    ),
}
