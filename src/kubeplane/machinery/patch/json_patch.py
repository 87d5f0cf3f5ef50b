"""RFC 6902 JSON patch (application/json-patch+json), with kube-apiserver's error mapping."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from kubeplane.machinery.errors import request_entity_too_large
from kubeplane.machinery.patch._errors import bad_patch, rejected

JSON = dict[str, Any]

# Upstream caps the operation count so one request cannot make the server do unbounded work.
MAX_OPERATIONS = 10000


def apply(doc: JSON, patch_ops: Any) -> JSON:
    """Apply ``patch_ops`` (the decoded request body) to a copy of ``doc``.

    A body that is not a list of objects is a 400; more than MAX_OPERATIONS is a 413; any operation
    that fails (a failed ``test``, a missing path, an unknown ``op``) is upstream's generic 422.
    """
    if not isinstance(patch_ops, list) or not all(isinstance(op, dict) for op in patch_ops):
        raise bad_patch("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(patch_ops) > MAX_OPERATIONS:
        raise request_entity_too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch_ops)}")
    try:
        result = jsonpatch.JsonPatch(patch_ops).apply(doc, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError,
            IndexError, ValueError):
        raise rejected() from None
    if not isinstance(result, dict):
        # Replacing the root with a non-object cannot decode into a Kubernetes object.
        raise rejected()
    return result
