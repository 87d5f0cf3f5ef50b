"""RFC 7386 JSON merge patch (application/merge-patch+json)."""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.machinery.patch._errors import bad_patch

JSON = dict[str, Any]


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def apply(doc: JSON, patch: Any) -> JSON:
    """Apply a merge patch to a copy of ``doc``; a patch that is not a JSON object is a 400."""
    if not isinstance(patch, dict):
        # Upstream's json-patch library answers ErrBadJSONPatch, which the handler turns into a 400.
        raise bad_patch("Invalid JSON Patch")
    result: JSON = merge(copy.deepcopy(doc), patch)
    return result
