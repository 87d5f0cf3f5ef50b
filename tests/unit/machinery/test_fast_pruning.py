"""Pruning's clean-body fast path (``_Pruner.has_unknown``, a walk that spells no paths) decides
exactly as the full walk does: the same removed paths and the same object, on a corpus of
realistic, random and damaged objects with unknown fields at every depth."""

from __future__ import annotations

import copy
import random

import pytest
from create_path_corpus import KIND_OF, MINOR, corpus, damaged

from kubeplane.machinery import pruning
from kubeplane.machinery.schema import JSON, schemas


def _general(kind: str, obj: JSON) -> tuple[list[str], JSON]:
    """The uncompiled walk (what CRD schemas use), same rules, always spelling paths."""
    kind_schemas = schemas(MINOR)
    node = kind_schemas.for_kind(*KIND_OF[kind], kind)
    out = copy.deepcopy(obj)
    removed: list[str] = []
    pruning._prune(kind_schemas, kind_schemas.resolve(node), out, "", removed)
    return removed, out


def _fast(kind: str, obj: JSON) -> tuple[list[str], JSON]:
    kind_schemas = schemas(MINOR)
    node = kind_schemas.for_kind(*KIND_OF[kind], kind)
    out = copy.deepcopy(obj)
    return pruning.prune_unknown_fields(kind_schemas, node, out), out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_prunes_like_the_general_walk(seed: int) -> None:
    rng = random.Random(seed)
    compared = with_unknown = 0
    for kind, obj in corpus(seed=seed, random_pods=30):
        for candidate in (obj, damaged(obj, rng, edits=1), damaged(obj, rng, edits=4)):
            expected = _general(kind, candidate)
            assert _fast(kind, candidate) == expected, (kind, candidate)
            compared += 1
            with_unknown += bool(expected[0])
    # Both outcomes are exercised: clean bodies (fast path only) and bodies with unknown fields.
    assert 0 < with_unknown < compared


def test_type_meta_is_kept_only_at_the_root() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "kind": "x"},
           "spec": {"containers": [{"name": "c", "apiVersion": "v1", "image": "i"}]}}
    removed, out = _fast("Pod", pod)
    assert removed == ["metadata.kind", "spec.containers[0].apiVersion"]
    assert (removed, out) == _general("Pod", pod)
    assert out["apiVersion"] == "v1" and out["kind"] == "Pod"


def test_clean_body_is_left_untouched() -> None:
    kind, obj = next(corpus(seed=5, random_pods=0))
    removed, out = _fast(kind, obj)
    assert removed == [] and out == obj
