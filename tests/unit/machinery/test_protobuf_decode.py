"""Decoding hand-encoded protobuf bodies: special types, zero handling, embedded structs, errors."""

from __future__ import annotations

import base64

import pytest

from kubeplane.machinery import errors, protobuf
from kubeplane.machinery.protobuf import special, wire

# --- a minimal encoder, enough to build test messages


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def num(number: int, value: int) -> bytes:
    return _varint(number << 3 | wire.VARINT) + _varint(value)


def raw(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | wire.LENGTH_DELIMITED) + _varint(len(value)) + value


def text(number: int, value: str) -> bytes:
    return raw(number, value.encode())


def msg(number: int, *parts: bytes) -> bytes:
    return raw(number, b"".join(parts))


def entry(number: int, key: str, value: bytes) -> bytes:
    """A map entry; ``value`` is the already-encoded field 2."""
    return msg(number, text(1, key), value)


def body(api_version: str, kind: str, *parts: bytes) -> bytes:
    type_meta = msg(1, text(1, api_version), text(2, kind))
    return b"k8s\x00" + type_meta + msg(2, *parts) + text(3, "") + text(4, "")


# --- the envelope


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/vnd.kubernetes.protobuf", True),
    ("Application/VND.Kubernetes.Protobuf; charset=utf-8", True),
    ("application/json", False),
    ("application/vnd.kubernetes.protobuf;stream=watch", True),
    (None, False),
    ("", False),
])
def test_is_protobuf(content_type: str | None, expected: bool) -> None:
    assert protobuf.is_protobuf(content_type) is expected


def test_missing_magic_is_a_bad_request() -> None:
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(b'{"kind": "Namespace"}')
    assert caught.value.code == 400
    assert "magic" in caught.value.message


def test_unknown_kind_is_a_bad_request() -> None:
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(body("v1", "Nonsense"))
    assert caught.value.code == 400
    assert "Nonsense" in caught.value.message


def test_truncated_body_is_a_bad_request() -> None:
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(body("v1", "Namespace", msg(1, text(1, "x")))[:-6])
    assert caught.value.code == 400


def test_unknown_field_number_is_refused_not_dropped() -> None:
    pod = body("v1", "Pod", msg(2, text(99, "surprise")))
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(pod)
    assert caught.value.code == 400
    assert caught.value.message.startswith("unable to decode protobuf field 99 of PodSpec: ")
    assert "application/json" in caught.value.message


def test_untabled_definition_is_refused() -> None:
    # Volume sources beyond the common ones are not tabled; a non-empty one is refused.
    pod = body("v1", "Pod", msg(2, msg(1, text(1, "v"), msg(2, msg(3, text(1, "disk"))))))
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(pod)
    assert "field 3 of VolumeSource" in caught.value.message


# --- values


def test_object_meta_times_labels_and_zero_dropping() -> None:
    meta = msg(1, text(1, "n"), text(2, ""), num(7, 0), msg(8, num(1, 1_700_000_000), num(2, 5)), msg(9),
               entry(11, "app", text(2, "web")), entry(12, "note", text(2, "")))
    obj = protobuf.decode(body("v1", "ConfigMap", meta, entry(2, "k", text(2, "v"))))
    assert obj == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "n", "creationTimestamp": "2023-11-14T22:13:20Z", "labels": {"app": "web"},
                     "annotations": {"note": ""}},
        "data": {"k": "v"},
    }


def test_negative_int32_and_pointer_zero() -> None:
    obj = protobuf.decode(body("scheduling.k8s.io/v1", "PriorityClass", msg(1, text(1, "p")), num(2, -5),
                               num(3, 0)))
    assert obj["value"] == -5
    assert "globalDefault" not in obj  # non-pointer false is Go's zero value
    obj = protobuf.decode(body("scheduling.k8s.io/v1", "PriorityClass", msg(1, text(1, "p")), num(2, 0)))
    assert obj["value"] == 0  # non-omitempty in Go's JSON


def test_eviction_keeps_zero_grace_period() -> None:
    delete_options = msg(2, num(1, 0), msg(2, text(1, "uid-1")), text(4, "Background"))
    obj = protobuf.decode(body("policy/v1", "Eviction", msg(1, text(1, "pod"), text(3, "ns")), delete_options))
    assert obj == {
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": "pod", "namespace": "ns"},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"},
                          "propagationPolicy": "Background"},
    }


def test_csr_bytes_are_base64_and_conditions_decode() -> None:
    request = b"-----BEGIN CERTIFICATE REQUEST-----\n"
    spec = msg(2, raw(1, request), text(5, "client auth"), text(7, "kubernetes.io/kube-apiserver-client"),
               num(8, 3600))
    status = msg(3, msg(1, text(1, "Approved"), text(6, "True"), text(2, "KubectlApprove"),
                        msg(4, num(1, 86400))))
    obj = protobuf.decode(body("certificates.k8s.io/v1", "CertificateSigningRequest", msg(1, text(1, "c")), spec,
                               status))
    assert obj["spec"] == {"request": base64.b64encode(request).decode(), "usages": ["client auth"],
                           "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 3600}
    assert obj["status"]["conditions"] == [{"type": "Approved", "status": "True", "reason": "KubectlApprove",
                                            "lastUpdateTime": "1970-01-02T00:00:00Z"}]


def test_subject_access_review_extra_map_of_lists() -> None:
    spec = msg(2, msg(1, text(2, "get"), text(5, "pods")), text(3, "bob"),
               entry(5, "scopes", msg(2, text(1, "a"), text(1, "b"))))
    obj = protobuf.decode(body("authorization.k8s.io/v1", "SubjectAccessReview", spec, msg(3, num(1, 0))))
    assert obj["spec"] == {"resourceAttributes": {"verb": "get", "resource": "pods"}, "user": "bob",
                           "extra": {"scopes": ["a", "b"]}}
    assert obj["status"] == {"allowed": False}


def test_embedded_structs_are_inlined() -> None:
    env = msg(7, text(1, "K"), msg(3, msg(3, msg(1, text(1, "cm")), text(2, "key"))))
    probe = msg(10, msg(1, msg(2, text(1, "/healthz"), msg(2, num(1, 1), text(3, "http")))), num(2, 0),
                num(3, 1))
    volume = msg(1, text(1, "cfg"), msg(2, msg(19, msg(1, text(1, "cm")), num(3, 420))))
    container = msg(2, text(1, "c"), text(2, "img"), env, probe)
    obj = protobuf.decode(body("v1", "Pod", msg(2, volume, container)))
    spec = obj["spec"]
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420}}]
    assert spec["containers"] == [{
        "name": "c", "image": "img",
        "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "key"}}}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "timeoutSeconds": 1},
    }]


def test_zero_status_written_by_go_disappears() -> None:
    # Go's marshaller writes every non-pointer scalar of a non-pointer struct, even on create.
    status = msg(3, text(1, ""), text(3, ""), text(4, ""), text(5, ""), text(6, ""), text(9, ""), text(11, ""))
    obj = protobuf.decode(body("v1", "Pod", msg(1, text(1, "p")), msg(2, msg(2, text(1, "c"))), status))
    assert obj == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c"}]}}
    rs_status = msg(3, num(1, 0), num(2, 0), num(3, 0))
    replica_set = protobuf.decode(body("apps/v1", "ReplicaSet", msg(1, text(1, "rs")), rs_status))
    assert replica_set["status"] == {"replicas": 0}  # non-omitempty in Go's JSON


def test_packed_and_unpacked_repeated_integers() -> None:
    packed = raw(4, _varint(1000) + _varint(2000))
    unpacked = num(4, 3000)
    pod = body("v1", "Pod", msg(2, msg(14, packed, unpacked, num(2, 0))))
    assert protobuf.decode(pod)["spec"]["securityContext"] == {"supplementalGroups": [1000, 2000, 3000],
                                                              "runAsUser": 0}


def test_managed_fields_v1_is_parsed_json() -> None:
    managed = msg(17, text(1, "kubectl"), text(2, "Update"), text(6, "FieldsV1"),
                  msg(7, raw(1, b'{"f:data":{}}')))
    obj = protobuf.decode(body("v1", "ConfigMap", msg(1, text(1, "c"), managed)))
    assert obj["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]


def test_minor_without_a_field_refuses_it() -> None:
    # Container.restartPolicyRules (field 25) is newer than 1.25's schema.
    pod = body("v1", "Pod", msg(2, msg(2, text(1, "c"), msg(25, text(1, "Restart")))))
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(pod, "1.25")
    assert "field 25 of Container" in caught.value.message


# --- special types


@pytest.mark.parametrize(("nanoseconds", "expected"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (1_500_000, "1.5ms"), (1_000_000_000, "1s"),
    (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (3_723_500_000_000, "1h2m3.5s"),
    (-2_000_000_000, "-2s"),
])
def test_go_duration_strings(nanoseconds: int, expected: str) -> None:
    assert special.format_go_duration(nanoseconds) == expected


def test_micro_time_and_zero_time() -> None:
    assert special.decode_micro_time(num(1, 1_700_000_000) + num(2, 123_456_000)) == "2023-11-14T22:13:20.123456Z"
    assert special.decode_time(b"") is None
    assert special.decode_time(num(1, -62135596800)) is None  # Go's zero time, sent explicitly


def test_int_or_string_and_quantity() -> None:
    assert special.decode_int_or_string(num(1, 0) + num(2, 8080) + text(3, "")) == 8080
    assert special.decode_int_or_string(num(1, 1) + num(2, 0) + text(3, "25%")) == "25%"
    assert special.decode_quantity(text(1, "500m")) == "500m"


def test_raw_extension_must_hold_json() -> None:
    assert special.decode_raw_json(raw(1, b'{"a": [1]}')) == {"a": [1]}
    with pytest.raises(wire.WireError):
        special.decode_raw_json(raw(1, b"\x00not json"))
