"""Pod defaulting's shortcuts (the volume source scan from the volume's side, sources looked up by
key first, a remembered image pull policy) give what the straightforward rules give, on volumes
with every source present, absent, null or ill-typed, and on a range of image references."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from kubeplane.machinery.defaults import pod as pod_defaults
from kubeplane.machinery.defaults._util import child, items, setdefault, setdefault_if_empty

JSON = dict[str, Any]


def _reference_volume(vol: JSON) -> None:
    """The rules as upstream states them, one lookup per source."""
    if not any(vol.get(source) is not None for source in pod_defaults.VOLUME_SOURCES):
        vol["emptyDir"] = {}
    for source_key in ("configMap", "secret", "downwardAPI", "projected"):
        source = child(vol, source_key)
        if source is not None:
            setdefault(source, "defaultMode", pod_defaults.DEFAULT_FILE_MODE)
    downward = child(vol, "downwardAPI")
    if downward is not None:
        for item in items(downward, "items"):
            ref = child(item, "fieldRef")
            if ref is not None:
                setdefault_if_empty(ref, "apiVersion", "v1")
    projected = child(vol, "projected")
    if projected is not None:
        for projection in items(projected, "sources"):
            inner = child(projection, "downwardAPI")
            if inner is not None:
                for item in items(inner, "items"):
                    ref = child(item, "fieldRef")
                    if ref is not None:
                        setdefault_if_empty(ref, "apiVersion", "v1")
            token = child(projection, "serviceAccountToken")
            if token is not None:
                setdefault(token, "expirationSeconds", 3600)
    host_path = child(vol, "hostPath")
    if host_path is not None:
        setdefault(host_path, "type", "")
    iscsi = child(vol, "iscsi")
    if iscsi is not None:
        setdefault_if_empty(iscsi, "iscsiInterface", "default")
    ephemeral = child(vol, "ephemeral")
    template = child(ephemeral, "volumeClaimTemplate") if ephemeral is not None else None
    claim_spec = child(template, "spec") if template is not None else None
    if claim_spec is not None:
        setdefault_if_empty(claim_spec, "volumeMode", "Filesystem")


_SOURCE_VALUES: dict[str, list[Any]] = {
    "configMap": [{"name": "c"}, {"name": "c", "defaultMode": 0o400}],
    "secret": [{"secretName": "s"}],
    "downwardAPI": [{"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}, "odd"]}],
    "projected": [{"sources": [{"serviceAccountToken": {"path": "t"}},
                               {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "x"}}]}}]}],
    "hostPath": [{"path": "/data"}],
    "iscsi": [{"targetPortal": "p", "iscsiInterface": ""}],
    "ephemeral": [{"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}],
    "emptyDir": [{}],
    "nfs": [{"server": "s", "path": "/"}],
}
_ODD: list[Any] = [None, "text", 0, [], {}]


def _volumes() -> list[JSON]:
    out: list[JSON] = [{"name": "none"}]
    for source, values in _SOURCE_VALUES.items():
        for value in [*values, *_ODD]:
            out.append({"name": "v", source: copy.deepcopy(value)})
    for first, second in itertools.combinations(sorted(_SOURCE_VALUES), 2):
        out.append({"name": "two", first: copy.deepcopy(_SOURCE_VALUES[first][0]),
                    second: copy.deepcopy(_SOURCE_VALUES[second][0])})
    return out


def test_volume_defaults_match_the_reference_rules() -> None:
    for vol in _volumes():
        expected = copy.deepcopy(vol)
        _reference_volume(expected)
        got = copy.deepcopy(vol)
        pod_defaults.volume(got)
        assert got == expected and list(got) == list(expected), vol


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "nginx:1.25", "registry:5000/a/b:tag", "a/b@sha256:" + "0" * 64,
                                   "", "UPPER:1", "host:5000/x", "busybox:latest@sha256:" + "a" * 64])
def test_remembered_pull_policy_matches_the_computation(image: str) -> None:
    computed = pod_defaults.image_pull_policy.__wrapped__(image)
    assert pod_defaults.image_pull_policy(image) == computed
    assert pod_defaults.image_pull_policy(image) == computed
