"""Namespaces: the ``kubernetes`` finalizer, Active/Terminating phase, finalize subresource."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import DeleteOptions, Store, now_rfc3339
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.objects import clone
from kubeplane.storage import interface as st

JSON = dict[str, Any]

KUBERNETES_FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    has_status_subresource = True

    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        super().prepare_for_create(ctx, obj)
        spec = obj.setdefault("spec", {})
        finalizers = list(spec.get("finalizers") or ())
        if KUBERNETES_FINALIZER not in finalizers:
            finalizers.append(KUBERNETES_FINALIZER)
        spec["finalizers"] = finalizers
        # Upstream labels every namespace with its own name (NamespaceDefaultLabelName).
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def initial_status(self, obj: JSON) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        super().prepare_for_update(ctx, new, old)
        # spec.finalizers change only through /finalize.
        new["spec"] = clone(old.get("spec") or {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = old["metadata"]["name"]


class NamespaceFinalizeStrategy(NamespaceStrategy):
    """``/finalize``: only spec.finalizers may change."""

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        rv = new["metadata"].get("resourceVersion", "")
        new.clear()
        new.update(clone(old))
        new.setdefault("spec", {})["finalizers"] = finalizers
        new["metadata"]["resourceVersion"] = rv


class NamespaceStore(Store):
    """Deleting a namespace first marks it Terminating; it goes away once the namespace controller
    has emptied it and cleared ``spec.finalizers`` through ``/finalize``."""

    async def delete(self, ctx: RequestContext, name: str, options: DeleteOptions) -> tuple[JSON, bool]:
        current = await self.get(ctx, name)
        if not (current.get("spec") or {}).get("finalizers") and not current["metadata"].get("finalizers"):
            return await super().delete(ctx, name, options)

        async def mark(obj: JSON | None) -> JSON:
            if obj is None:
                raise errors.not_found("", "namespaces", name)
            obj = clone(obj)
            if options.uid and options.uid != obj["metadata"].get("uid"):
                raise errors.conflict("", "namespaces", name, "Precondition failed: UID in precondition: "
                                      f"{options.uid}, UID in object meta: {obj['metadata'].get('uid')}")
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = now_rfc3339()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
            obj.setdefault("status", {})["phase"] = "Terminating"
            return obj

        if ctx.dry_run:
            return await mark(current), False
        try:
            return await self.storage.guaranteed_update(self.key("", name), mark), False
        except st.StorageError as exc:
            raise self.translate(exc, name) from exc

    def _should_delete_during_update(self, new: JSON) -> bool:
        meta = new["metadata"]
        return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers") and \
            not (new.get("spec") or {}).get("finalizers")
