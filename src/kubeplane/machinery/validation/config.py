"""ConfigMap, Secret, Namespace, PersistentVolumeClaim and Node rules (upstream core validation)."""

from __future__ import annotations

import base64
import binascii

from kubeplane.machinery.errors import Cause

from . import field as f
from . import names, pod, quantity
from ._access import JSON, lst, obj, objs, text

MAX_DATA_SIZE = 1024 * 1024  # core.MaxSecretSize, shared by ConfigMaps
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
STANDARD_NAMESPACE_FINALIZERS = ("kubernetes",)
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"

# Secret types whose data must hold particular keys (upstream ValidateSecret).
_REQUIRED_SECRET_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def config_map(obj_: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    data, binary = obj(obj_, "data"), obj(obj_, "binaryData")
    total = 0
    for key, value in data.items():
        causes += f.invalid_all("data", key, names.config_map_key(key))
        if key in binary:
            causes.append(f.invalid("data", key, "duplicate of key present in binaryData"))
        total += len(value.encode()) if isinstance(value, str) else 0
    for key, value in binary.items():
        causes += f.invalid_all("binaryData", key, names.config_map_key(key))
        total += _decoded_size(value)
    if total > MAX_DATA_SIZE:
        causes.append(f.too_long("", MAX_DATA_SIZE))
    return causes


def _decoded_size(value: object) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value)


def secret(obj_: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    data = obj(obj_, "data")
    total = 0
    for key, value in data.items():
        key_path = f.key("data", key)
        causes += f.invalid_all(key_path, key, names.config_map_key(key))
        if isinstance(value, str):
            try:
                total += len(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                causes.append(f.invalid(key_path, "<secret contents redacted>", "illegal base64 data"))
    for key in obj(obj_, "stringData"):
        causes += f.invalid_all(f.key("stringData", key), key, names.config_map_key(key))
    if total > MAX_DATA_SIZE:
        causes.append(f.too_long("data", MAX_DATA_SIZE))
    secret_type = text(obj_, "type")
    present = set(data) | set(obj(obj_, "stringData"))
    for required_key in _REQUIRED_SECRET_KEYS.get(secret_type, ()):
        if required_key not in present:
            causes.append(f.required(f.key("data", required_key)))
    if secret_type == "kubernetes.io/service-account-token":
        annotation = "kubernetes.io/service-account.name"
        if not text(obj(obj(obj_, "metadata"), "annotations"), annotation):
            causes.append(f.required(f.key("metadata.annotations", annotation)))
    if secret_type == "kubernetes.io/basic-auth" and not present & {"username", "password"}:
        causes.append(f.required(f.key("data", "username")))
        causes.append(f.required(f.key("data", "password")))
    return causes


def _immutable_data(new: JSON, old: JSON, keys: tuple[str, ...]) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    causes: list[Cause] = []
    if new.get("immutable") is not True:
        causes.append(f.forbidden("immutable", IMMUTABLE_WHEN_SET))
    for key in keys:
        if (new.get(key) or {}) != (old.get(key) or {}):
            causes.append(f.forbidden(key, IMMUTABLE_WHEN_SET))
    return causes


def config_map_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    return _immutable_data(new, old, ("data", "binaryData"))


def secret_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    return (f.immutable("type", text(new, "type"), text(old, "type"))
            + _immutable_data(new, old, ("data",)))


def namespace(obj_: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    for value in lst(obj(obj_, "spec"), "finalizers"):
        if not isinstance(value, str):
            continue
        if "/" not in value and value not in STANDARD_NAMESPACE_FINALIZERS:
            causes.append(f.invalid("spec.finalizers", value,
                                    "name is neither a standard finalizer name nor is it fully qualified"))
        else:
            causes += f.invalid_all("spec.finalizers", value, names.qualified_name(value))
    return causes


def claim_spec(path: str, spec: JSON) -> list[Cause]:
    causes: list[Cause] = []
    modes = lst(spec, "accessModes")
    if not modes:
        causes.append(f.required(f.child(path, "accessModes"), "at least 1 access mode is required"))
    for mode in modes:
        if mode not in ACCESS_MODES:
            causes.append(f.not_supported(f.child(path, "accessModes"), mode, ACCESS_MODES))
    storage_path = f.key(f.child(path, "resources"), "storage")
    requests = obj(obj(spec, "resources"), "requests")
    if "storage" not in requests:
        causes.append(f.required(storage_path))
    else:
        size = quantity.parse(requests["storage"])
        if size is not None and size <= 0:
            causes.append(f.invalid(storage_path, str(requests["storage"]), "must be greater than zero"))
    causes += f.one_of(f.child(path, "volumeMode"), spec.get("volumeMode"), ("Block", "Filesystem"),
                       required_when_empty=False)
    return causes


def persistent_volume_claim(obj_: JSON, minor: str) -> list[Cause]:
    return claim_spec("spec", obj(obj_, "spec"))


def persistent_volume_claim_update(new: JSON, old: JSON, minor: str) -> list[Cause]:
    new_spec, old_spec = dict(obj(new, "spec")), dict(obj(old, "spec"))
    # Storage requests (expansion) and the attributes class may change; nothing else may.
    for spec in (new_spec, old_spec):
        spec.pop("volumeAttributesClassName", None)
        resources = dict(obj(spec, "resources"))
        resources.pop("requests", None)
        spec["resources"] = resources
        if not old_spec.get("volumeName"):
            spec.pop("volumeName", None)  # binding an unbound claim sets volumeName
    if new_spec != old_spec:
        return [f.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                    "volumeAttributesClassName for bound claims")]
    return []


def node(obj_: JSON, minor: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, taint in objs(obj(obj_, "spec"), "taints"):
        path = f.index("spec.taints", i)
        key = text(taint, "key")
        if not key:
            causes.append(f.required(f.child(path, "key")))
        else:
            causes += f.invalid_all(f.child(path, "key"), key, names.qualified_name(key))
        causes += f.one_of(f.child(path, "effect"), taint.get("effect"), pod.TAINT_EFFECTS)
    return causes
