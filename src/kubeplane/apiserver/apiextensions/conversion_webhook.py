"""The ``Webhook`` conversion of a CustomResourceDefinition: a ConversionReview sent to the
configured webhook, its answer checked as upstream's webhook converter checks it.

The HTTPS client (url or service reference, caBundle trust, uid check) is the admission webhooks'
``WebhookClient``: one place knows how the API server dials a webhook. Upstream sets no
conversion-specific timeout (the request's own deadline bounds the call); a fixed 30 s keeps a
hung webhook from holding a request or a watch forever.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from typing import Any

from kubeplane.apiserver.admission.webhook.client import CallError, WebhookClient
from kubeplane.machinery import errors
from kubeplane.machinery.validation import meta as meta_validation

JSON = dict[str, Any]

GROUP = "apiextensions.k8s.io"
# ConversionReview versions this server speaks, in the order it prefers them.
SUPPORTED_REVIEW_VERSIONS = ("v1", "v1beta1")
TIMEOUT_SECONDS = 30


class ConversionFailed(Exception):
    """The webhook could not convert; the message is upstream's (``conversion webhook for ...``)."""

    def to_status_error(self) -> errors.StatusError:
        return errors.internal(str(self))


def review_version(conversion_review_versions: Sequence[str]) -> str | None:
    """The first version the CRD lists that this server supports, as upstream picks it."""
    return next((v for v in conversion_review_versions if v in SUPPORTED_REVIEW_VERSIONS), None)


def _gvk(obj: JSON) -> str:
    # Go's GroupVersionKind.String(): "group/version, Kind=Kind".
    return f"{obj.get('apiVersion', '')}, Kind={obj.get('kind', '')}"


class WebhookConverter:
    """Converts custom objects of one CRD by calling its conversion webhook."""

    def __init__(self, client: WebhookClient, webhook: JSON) -> None:
        """``webhook`` is the CRD's ``spec.conversion.webhook`` (clientConfig, conversionReviewVersions)."""
        self.client = client
        self.client_config: JSON = dict(webhook.get("clientConfig") or {})
        self.review_versions: list[str] = list(webhook.get("conversionReviewVersions") or ())

    async def convert(self, objects: Sequence[JSON], desired_api_version: str) -> list[JSON]:
        """``objects`` in ``desired_api_version``, in order; objects already in it are not sent.

        Raises ``ConversionFailed`` with upstream's wording when the call or its answer is wrong.
        """
        pending = [i for i, obj in enumerate(objects) if obj.get("apiVersion") != desired_api_version]
        out = list(objects)
        if not pending:
            return out
        sent = [objects[i] for i in pending]
        first = sent[0]
        converted = await self._call(sent, desired_api_version, _gvk(first))
        group_version = desired_api_version
        for index, (i, result) in enumerate(zip(pending, converted, strict=True)):
            out[i] = _checked(objects[i], result, group_version, _gvk(first), index)
        return out

    async def _call(self, objects: list[JSON], desired_api_version: str, gvk: str) -> list[JSON]:
        version = review_version(self.review_versions)
        if version is None:
            raise ConversionFailed(
                f"conversion webhook for {gvk} failed: no supported conversion review versions: "
                f"webhook accepts {self.review_versions}, API server supports {list(SUPPORTED_REVIEW_VERSIONS)}")
        uid = str(uuid.uuid4())
        review = {"apiVersion": f"{GROUP}/{version}", "kind": "ConversionReview",
                  "request": {"uid": uid, "desiredAPIVersion": desired_api_version, "objects": objects}}
        try:
            response = await self.client.call({"clientConfig": self.client_config, "timeoutSeconds": TIMEOUT_SECONDS},
                                              review)
        except CallError as exc:
            raise ConversionFailed(f"conversion webhook for {gvk} failed: {exc}") from exc
        result = response.get("result") or {}
        if result.get("status") != "Success":
            detail = result.get("message") or f"response.result.status was '{result.get('status', '')}', not 'Success'"
            raise ConversionFailed(f"conversion webhook for {gvk} failed: {detail}")
        converted = response.get("convertedObjects")
        if not isinstance(converted, list):
            converted = []
        if len(converted) != len(objects):
            raise ConversionFailed(
                f"conversion webhook for {gvk} returned {len(converted)} objects, expected {len(objects)}")
        return converted


def _checked(original: JSON, converted: Any, group_version: str, gvk: str, index: int) -> JSON:
    """The converted object with the original's metadata except labels and annotations (upstream:
    a webhook may change only those; other metadata it returns is replaced, identity must match)."""
    prefix = f"conversion webhook for {gvk} returned invalid converted object at index {index}"
    if not isinstance(converted, dict):
        raise ConversionFailed(f"{prefix}: not an object")
    if converted.get("apiVersion") != group_version:
        raise ConversionFailed(f"{prefix}: invalid groupVersion (expected {group_version}, "
                               f"received {converted.get('apiVersion', '')})")
    if converted.get("kind") != original.get("kind"):
        raise ConversionFailed(f"{prefix}: invalid kind (expected {original.get('kind')}, "
                               f"received {converted.get('kind', '')})")
    before = original.get("metadata") or {}
    after = converted.get("metadata")
    if not isinstance(after, dict):
        raise ConversionFailed(f"conversion webhook for {gvk} returned invalid metadata in object at index {index}: "
                               "missing metadata in converted object")
    for field, label in (("name", "name"), ("namespace", "namespace"), ("uid", "UID")):
        if (before.get(field) or "") != (after.get(field) or ""):
            raise ConversionFailed(f"{prefix}: must have the same {label}: "
                                   f"{before.get(field) or ''} != {after.get(field) or ''}")
    metadata = copy.deepcopy(before)
    for field in ("labels", "annotations"):
        value = after.get(field)
        if value is None:
            metadata.pop(field, None)
            continue
        problem = _string_map_problem(field, value)
        if problem:
            raise ConversionFailed(f"conversion webhook for {gvk} returned invalid metadata in object at index "
                                   f"{index}: {problem}")
        metadata[field] = value
    return {**converted, "metadata": metadata}


def _string_map_problem(field: str, value: Any) -> str:
    if not isinstance(value, dict):
        return f"invalid metadata.{field} of type {type(value).__name__} in converted object"
    for key, item in value.items():
        if not isinstance(item, str):
            return f"metadata.{field}[{key}] must be a string, but is {type(item).__name__} in converted object"
    causes = (meta_validation.validate_labels("metadata.labels", value) if field == "labels"
              else meta_validation.validate_annotations("metadata.annotations", value))
    return ", ".join(f"{c.field}: {c.message}" for c in causes)


__all__ = ["SUPPORTED_REVIEW_VERSIONS", "TIMEOUT_SECONDS", "ConversionFailed", "WebhookConverter", "review_version"]
