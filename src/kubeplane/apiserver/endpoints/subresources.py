"""Subresources that are not a plain strategy swap: scale, binding and service-account tokens
(eviction has its own module)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authn import TokenIssuer
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.core.pods import bind
from kubeplane.apiserver.registry.store import Store, now_rfc3339
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.labels import from_label_selector, selector_from_set
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]


def _selector_string(obj: JSON) -> str:
    """Scale.status.selector: RCs have a plain label map, the apps kinds a metav1.LabelSelector."""
    selector = (obj.get("spec") or {}).get("selector") or {}
    if "matchLabels" in selector or "matchExpressions" in selector:
        return str(from_label_selector(selector))
    return str(selector_from_set(selector))


def to_scale(obj: JSON) -> JSON:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": _selector_string(obj)},
    }


def apply_scale(current: JSON, scale: Any) -> JSON:
    updated = clone(current)
    updated.setdefault("spec", {})["replicas"] = requested_replicas(current, scale)
    return updated


def requested_replicas(current: JSON, scale: Any) -> int:
    """The replicas a Scale body asks for, checked (kind, value, resourceVersion precondition)."""
    if not isinstance(scale, dict) or scale.get("kind") not in (None, "Scale"):
        raise errors.bad_request("the body of the request must be an autoscaling/v1 Scale")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    name = current["metadata"]["name"]
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("autoscaling", "Scale", name, [Cause(
            "FieldValueInvalid", f"Invalid value: {replicas}: must be greater than or equal to 0",
            "spec.replicas")])
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != current["metadata"].get("resourceVersion"):
        raise errors.conflict("autoscaling", "scale", name, errors.OBJECT_MODIFIED)
    return int(replicas)


async def bind_pod(ctx: RequestContext, pods: Store, name: str, binding: Any) -> JSON:
    if not isinstance(binding, dict):
        raise errors.bad_request("the body of the request must be a Binding")
    binding = dict(binding)
    binding["_now"] = now_rfc3339()

    async def produce(current: JSON | None) -> JSON:
        if current is None:
            raise errors.not_found("", "pods", name)
        return bind(current, binding)

    await pods.update(ctx, name, produce, BindingStrategy(pods.info, pods.strategy.minor))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class BindingStrategy(Strategy):
    """Binding writes spec.nodeName and the PodScheduled condition, which neither the main nor the
    status strategy lets through; ``bind`` already checked everything, so the object goes as made."""

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        pass

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        return []


async def request_token(ctx: RequestContext, issuer: TokenIssuer | None, name: str, body: Any) -> JSON:
    """TokenRequest (``serviceaccounts/<name>/token``); not served without a signing key, as upstream."""
    if issuer is None:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    return await issuer.create(ctx.namespace, name, body)
