"""managedFields fast paths against their general forms: path elements of single-string-key lists
(a dict probe instead of the keyed lru cache), maps of leaves written from their keys alone, and
one-element lists written without sorting — all on objects of many shapes, byte for byte."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest
from create_path_corpus import MINOR, checkout_pod

from kubeplane.machinery.managedfields import walk
from kubeplane.machinery.managedfields.create import _every_path_wire
from kubeplane.machinery.managedfields.fieldset import _to_wire, key_element
from kubeplane.machinery.managedfields.shapes import KEYED_LIST, shape_of
from kubeplane.machinery.schema import schemas


def _pod_shape() -> Any:
    kind_schemas = schemas(MINOR)
    node = kind_schemas.for_kind("", "v1", "Pod")
    assert node is not None
    return shape_of(kind_schemas, node)


def _containers_shape() -> Any:
    shape = _pod_shape().child("spec").child("containers")
    assert shape.kind == KEYED_LIST and shape.keys == ("name",)
    return shape


@pytest.mark.parametrize("value", ["app", "", "a\"b<&>", "ünïcode", 1, True, 1.5, None])
def test_single_key_element_matches_the_general_spelling(value: Any) -> None:
    shape = _containers_shape()
    expected = key_element({"name": value})
    assert walk.list_element(shape, {"name": value, "image": "x"}) == expected
    assert walk.list_element(shape, {"name": value}) == expected  # remembered or not, the same


def test_single_key_element_without_the_key_and_with_a_map_key() -> None:
    shape = _containers_shape()
    assert walk.list_element(shape, {"image": "x"}) == key_element({})
    assert walk.list_element(shape, {"name": {"a": 1}}) == key_element({"name": {"a": 1}})
    with pytest.raises(walk.ShapeMismatch):
        walk.list_element(shape, "not-a-map")


def test_remembered_single_keys_stay_bounded() -> None:
    shape = _containers_shape()
    for i in range(walk._SINGLE_STRING_KEYS_MAX + 10):
        assert walk.list_element(shape, {"name": f"c{i}"}) == key_element({"name": f"c{i}"})
    assert len(walk._single_string_keys) <= walk._SINGLE_STRING_KEYS_MAX


def _general_every_path(shape: Any, value: Any) -> bytes:
    """``walk.every_path`` as FieldsV1 (the general path of a value only the new object has)."""
    return orjson.dumps(_to_wire(walk.every_path(shape, value)))


def _variants(rng: random.Random) -> list[Any]:
    pod = checkout_pod("fast-0")
    spec = pod["spec"]
    out: list[Any] = [copy.deepcopy(pod["metadata"]), copy.deepcopy(spec)]
    for _ in range(30):
        candidate = copy.deepcopy(spec)
        containers = candidate["containers"]
        if rng.random() < 0.5:
            containers.append({**copy.deepcopy(containers[0]), "name": f"side-{rng.randint(0, 3)}"})
        if rng.random() < 0.3:
            containers.append(copy.deepcopy(containers[0]))  # a repeated element keeps the first
        if rng.random() < 0.5:
            candidate["nodeSelector"] = {f"k{rng.randint(0, 9)}": rng.choice(["", "v", 0]) for _ in range(3)}
        if rng.random() < 0.3:
            candidate["nodeSelector"] = {}
        out.append(candidate)
    return out


def test_every_path_writer_matches_every_path() -> None:
    shape = _pod_shape()
    rng = random.Random(11)
    for value in _variants(rng):
        key = "metadata" if "name" in value and "containers" not in value else "spec"
        child = shape.child(key)
        assert orjson.dumps(_every_path_wire(child, value)) == _general_every_path(child, value), value


def test_now_stamp_is_the_clock_second() -> None:
    from datetime import UTC, datetime

    from kubeplane.machinery.managedfields.entries import format_time

    for _ in range(3):
        before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        stamp = format_time()
        after = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert before <= stamp <= after
    moment = datetime(2026, 11, 27, 5, 4, 3, 999_999, tzinfo=UTC)
    assert format_time(moment) == "2026-11-27T05:04:03Z"


@pytest.mark.parametrize("user_agent", ["kubectl/v1.35.0 (linux/amd64)", "bench/1.0", "", "/x", "no-slash",
                                        "tab\tand\nnewline/1", "ü" * 200 + "/1", "a" * 300])
def test_remembered_manager_names_match_the_computation(user_agent: str) -> None:
    from kubeplane.machinery.managedfields.entries import manager_from_user_agent

    computed = manager_from_user_agent.__wrapped__(user_agent)
    assert manager_from_user_agent(user_agent) == computed
    assert manager_from_user_agent(user_agent) == computed  # a hit the second time


def test_check_every_path_raises_exactly_where_every_path_does() -> None:
    from create_path_corpus import KIND_OF, corpus, damaged

    from kubeplane.machinery.managedfields.create import check_every_path

    kind_schemas = schemas(MINOR)
    rng = random.Random(5)
    outcomes = set()
    for kind, obj in corpus(seed=9, random_pods=30):
        node = kind_schemas.for_kind(*KIND_OF[kind], kind)
        assert node is not None
        shape = shape_of(kind_schemas, node)
        for candidate in (obj, damaged(obj, rng, edits=3), damaged(obj, rng, edits=6)):
            try:
                walk.every_path(shape, candidate)
                expected = "ok"
            except walk.ShapeMismatch as exc:
                expected = str(exc)
            try:
                check_every_path(shape, candidate)
                got = "ok"
            except walk.ShapeMismatch as exc:
                got = str(exc)
            assert got == expected, candidate
            outcomes.add(expected == "ok")
    assert outcomes == {True, False}
