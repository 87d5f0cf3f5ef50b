"""RFC 6902 JSON patch with kube-apiserver's status codes."""

import pytest

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.patch import json_patch
from kubeplane.machinery.patch._errors import REJECTED_MESSAGE

DOC = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"items": [1, 2]}}


def test_applies_operations_without_touching_the_input() -> None:
    out = json_patch.apply(DOC, [
        {"op": "test", "path": "/metadata/name", "value": "a"},
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
        {"op": "remove", "path": "/metadata/labels/x"},
        {"op": "replace", "path": "/spec/items/0", "value": 9},
        {"op": "add", "path": "/spec/items/-", "value": 3},
    ])
    assert out == {"metadata": {"name": "a", "labels": {"y": "2"}}, "spec": {"items": [9, 2, 3]}}
    assert DOC["metadata"]["labels"] == {"x": "1"}


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/metadata/name", "value": "b"}],
    [{"op": "add", "path": "/metadata/annotations/x", "value": "1"}],
    [{"op": "remove", "path": "/spec/missing"}],
    [{"op": "bogus", "path": "/spec"}],
    [{"path": "/spec"}],
])
def test_operations_that_do_not_apply_are_a_generic_422(ops: list) -> None:
    with pytest.raises(StatusError) as info:
        json_patch.apply(DOC, ops)
    assert (info.value.code, info.value.reason, info.value.message) == (422, "Invalid", REJECTED_MESSAGE)


def test_malformed_body_is_400_and_too_many_operations_413() -> None:
    with pytest.raises(StatusError) as info:
        json_patch.apply(DOC, {"op": "add"})
    assert info.value.code == 400
    with pytest.raises(StatusError) as info:
        json_patch.apply(DOC, [{"op": "test", "path": "/metadata/name", "value": "a"}] * 10001)
    assert info.value.code == 413
