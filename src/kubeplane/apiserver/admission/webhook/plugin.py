"""MutatingAdmissionWebhook and ValidatingAdmissionWebhook.

Configurations are listed from the API server's watch cache on each request and parsed once per
list resourceVersion. Mutating webhooks run one after another in configuration-name order and may
answer a JSONPatch; a webhook with ``reinvocationPolicy: IfNeeded`` runs once more when a later one
changed the object. Validating webhooks run concurrently. Call failures follow ``failurePolicy``;
webhooks with side effects (``Some``/``Unknown``) refuse dry-run requests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

import orjson

from kubeplane.apiserver.admission.attributes import Attributes
from kubeplane.apiserver.admission.objects import FROM_CACHE, ClusterObjects
from kubeplane.apiserver.admission.webhook.client import CallError, WebhookClient, review_request
from kubeplane.apiserver.admission.webhook.equivalence import GVR, convert
from kubeplane.apiserver.admission.webhook.matching import (
    invocation,
    namespace_selector_matches,
    object_selector_matches,
    request_gvr,
)
from kubeplane.machinery import errors
from kubeplane.machinery.objects import clone
from kubeplane.machinery.patch import json_patch

log = logging.getLogger(__name__)
JSON = dict[str, Any]

GROUP = "admissionregistration.k8s.io"
# Webhook configurations are never themselves sent to webhooks (upstream: a broken webhook must not
# lock the cluster out of fixing it).
_NEVER_INTERCEPTED = {(GROUP, "mutatingwebhookconfigurations"), (GROUP, "validatingwebhookconfigurations"),
                      (GROUP, "validatingadmissionpolicies"), (GROUP, "validatingadmissionpolicybindings")}


class _Configurations:
    """Webhooks of one configuration resource, re-parsed only when the list changed."""

    def __init__(self, objects: ClusterObjects, resource: str) -> None:
        self.objects = objects
        self.resource = resource
        self._version = -1
        self._webhooks: list[JSON] = []

    async def webhooks(self) -> list[JSON]:
        store = self.objects.store(GROUP, self.resource)
        if store is None:
            return []
        result = await store.storage.get_list(store.prefix(""), FROM_CACHE)
        if result.resource_version != self._version or self._version < 0:
            configs = sorted(result.items, key=lambda c: c["metadata"]["name"])
            self._webhooks = [{**hook, "_configuration": c["metadata"]["name"]}
                              for c in configs for hook in c.get("webhooks") or ()]
            self._version = result.resource_version
        return self._webhooks


class _WebhookPlugin:
    resource = ""

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects
        self.configurations = _Configurations(objects, self.resource)
        self.client = WebhookClient(objects)

    async def stop(self) -> None:
        await self.client.close()

    async def matching(self, attrs: Attributes) -> list[tuple[JSON, GVR]]:
        """The matching webhooks, each with the resource it is called for (see matching.invocation)."""
        if (attrs.group, attrs.resource.resource) in _NEVER_INTERCEPTED:
            return []
        hooks = [(h, gvr) for h in await self.configurations.webhooks() if (gvr := invocation(h, attrs)) is not None]
        if not hooks:
            return []
        labels: dict[str, str] | None = None
        if attrs.resource.namespaced and any(h.get("namespaceSelector") for h, _ in hooks):
            namespace = await self.objects.get("", "namespaces", "", attrs.namespace)
            labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        return [(h, gvr) for h, gvr in hooks
                if namespace_selector_matches(h, attrs, labels) and object_selector_matches(h, attrs)]

    async def call(self, hook: JSON, attrs: Attributes, invoked_as: GVR | None = None) -> JSON | None:
        """The webhook's response, or None when it failed and its failurePolicy is Ignore."""
        name = hook.get("name", "")
        if attrs.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{name}" does not support dry run')
        try:
            response = await self.client.call(hook, review_request(attrs, invoked_as))
        except CallError as exc:
            if hook.get("failurePolicy") == "Ignore":
                log.warning('failed calling webhook "%s" (ignored): %s', name, exc)
                return None
            raise errors.internal(f'failed calling webhook "{name}": failed to call webhook: {exc}') from exc
        for warning in response.get("warnings") or ():
            attrs.warnings.append(str(warning))
        if not response.get("allowed"):
            raise denied(name, response.get("status") or {})
        return response


def denied(name: str, status: JSON) -> errors.StatusError:
    """Upstream's webhook denial: the webhook's code and reason, its message behind our prefix."""
    code = int(status.get("code") or 403)
    message = status.get("message") or ""
    text = f'admission webhook "{name}" denied the request: {message}' if message else \
        f'admission webhook "{name}" denied the request without explanation'
    reason = status.get("reason") or ("Forbidden" if code == 403 else "")
    return errors.StatusError(code, reason, text)


class MutatingAdmissionWebhook(_WebhookPlugin):
    name = "MutatingAdmissionWebhook"
    resource = "mutatingwebhookconfigurations"

    async def admit(self, attrs: Attributes) -> None:
        hooks = await self.matching(attrs)
        if not hooks:
            return
        after: dict[int, JSON] = {}
        for index, (hook, gvr) in enumerate(hooks):
            await self._mutate(hook, attrs, gvr)
            if attrs.object is not None:
                after[index] = clone(attrs.object)
        # Reinvocation: a webhook asking for it runs again if a later webhook changed the object.
        for index, (hook, gvr) in enumerate(hooks):
            if hook.get("reinvocationPolicy") == "IfNeeded" and attrs.object is not None and \
                    after.get(index) != attrs.object:
                await self._mutate(hook, attrs, gvr)

    async def _mutate(self, hook: JSON, attrs: Attributes, invoked_as: GVR) -> None:
        response = await self.call(hook, attrs, invoked_as)
        if response is None or not response.get("patch") or attrs.object is None:
            return
        own = request_gvr(attrs)
        # The patch is against the object as the webhook saw it (its version); convert it back.
        seen = convert(attrs.object, own, invoked_as)
        assert seen is not None
        name = hook.get("name", "")
        if response.get("patchType") != "JSONPatch":
            raise errors.internal(f'failed calling webhook "{name}": unsupported patch type '
                                  f'"{response.get("patchType")}"')
        try:
            operations = orjson.loads(base64.b64decode(response["patch"]))
            patched = convert(json_patch.apply(seen, operations), invoked_as, own)
            assert patched is not None
        except (binascii.Error, ValueError, errors.StatusError) as exc:
            raise errors.internal(f'failed calling webhook "{name}": invalid patch: {exc}') from exc
        if attrs.redefault is not None:
            attrs.redefault(patched)
        attrs.object.clear()
        attrs.object.update(patched)


class ValidatingAdmissionWebhook(_WebhookPlugin):
    name = "ValidatingAdmissionWebhook"
    resource = "validatingwebhookconfigurations"

    async def validate(self, attrs: Attributes) -> None:
        hooks = await self.matching(attrs)
        if hooks:
            await asyncio.gather(*(self.call(hook, attrs, gvr) for hook, gvr in hooks))
