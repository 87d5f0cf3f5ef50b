"""ResourceQuota: charge each new object against every matching quota, atomically.

For each quota in the namespace that constrains what the object uses, ``status.used`` is raised by
the object's usage with a compare-and-swap on the quota's resourceVersion *before* the object is
written, so concurrent creates through any replica can never both take the last unit. A write that
then fails gives its charge back. (Upstream's quota controller lowers ``used`` again when objects go
away; a quota whose ``used`` lacks a resource is primed here by counting the existing objects.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.quantity import fmt, is_binary, resource_list, value
from kubeplane.apiserver.admission.quota_usage import matches_scopes, missing_compute, usage
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]


class ResourceQuota:
    name = "ResourceQuota"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or attrs.subresource or attrs.object is None or not attrs.namespace:
            return
        quotas = await self.objects.list("", "resourcequotas", attrs.namespace)
        if not quotas:
            return
        is_pod = attrs.is_resource("", "pods")
        requested = usage(attrs.group, attrs.resource.resource, attrs.object)
        for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
            hard = (quota.get("spec") or {}).get("hard") or {}
            if not matches_scopes(quota, attrs.object if is_pod else None):
                continue
            if is_pod:
                missing = missing_compute(attrs.object.get("spec") or {}, hard)
                if missing:
                    detail = "; ".join(f"{name} for: {','.join(containers)}" for name, containers in missing.items())
                    raise attrs.forbidden(f"failed quota: {quota['metadata']['name']}: must specify {detail}")
            charged = {name: amount for name, amount in requested.items() if name in hard}
            if not charged:
                continue
            await self._charge(attrs, quota["metadata"]["name"], charged)

    async def _charge(self, attrs: Attributes, quota_name: str, charged: dict[str, Fraction]) -> None:
        store = self.objects.store("", "resourcequotas")
        assert store is not None
        key = store.key(attrs.namespace, quota_name)
        primed: dict[str, Fraction] = {}

        async def raise_used(current: JSON | None) -> JSON:
            nonlocal primed
            if current is None:
                raise _QuotaGone()
            quota = clone(current)
            hard = (quota.get("spec") or {}).get("hard") or {}
            status = quota.setdefault("status", {})
            used = status.setdefault("used", {})
            if not primed and any(name not in used for name in charged):
                primed = await self._existing_usage(attrs, charged)
            over: list[str] = []
            for name, amount in charged.items():
                before = value(used[name]) if name in used else primed.get(name, Fraction(0))
                if before + amount > value(hard[name]):
                    over.append(name)
            if over:
                binary = {name: is_binary(hard[name]) for name in hard}
                raise attrs.forbidden(
                    f"exceeded quota: {quota_name}, "
                    f"requested: {resource_list({n: charged[n] for n in over}, binary)}, "
                    f"used: {resource_list({n: _used(used, primed, n) for n in over}, binary)}, "
                    f"limited: {resource_list({n: value(hard[n]) for n in over}, binary)}")
            for name, amount in charged.items():
                used[name] = fmt(_used(used, primed, name) + amount, is_binary(hard[name]))
            status["hard"] = dict(hard)
            if attrs.dry_run:
                raise _DryRunChecked()
            return quota

        try:
            await store.storage.guaranteed_update(key, raise_used)
        except (_QuotaGone, _DryRunChecked):
            return
        attrs.undo.append(self._refund(key, charged))

    def _refund(self, key: str, charged: dict[str, Fraction]) -> Callable[[], Awaitable[None]]:
        async def refund() -> None:
            store = self.objects.store("", "resourcequotas")
            assert store is not None

            async def lower_used(current: JSON | None) -> JSON:
                if current is None:
                    raise _QuotaGone()
                quota = clone(current)
                hard = (quota.get("spec") or {}).get("hard") or {}
                used = quota.setdefault("status", {}).setdefault("used", {})
                for name, amount in charged.items():
                    if name in used:
                        used[name] = fmt(max(value(used[name]) - amount, Fraction(0)), is_binary(hard.get(name)))
                return quota

            try:
                await store.storage.guaranteed_update(key, lower_used)
            except _QuotaGone:
                pass

        return refund

    async def _existing_usage(self, attrs: Attributes, charged: dict[str, Fraction]) -> dict[str, Fraction]:
        """Usage of the objects already in the namespace, for quota resources ``used`` does not track yet."""
        totals: dict[str, Fraction] = {}
        for obj in await self.objects.list_fresh(attrs.group, attrs.resource.resource, attrs.namespace):
            for name, amount in usage(attrs.group, attrs.resource.resource, obj).items():
                if name in charged:
                    totals[name] = totals.get(name, Fraction(0)) + amount
        return totals


def _used(used: JSON, primed: dict[str, Fraction], name: str) -> Fraction:
    return value(used[name]) if name in used else primed.get(name, Fraction(0))


class _QuotaGone(Exception):
    """The quota was deleted meanwhile: nothing to charge."""


class _DryRunChecked(Exception):
    """Dry run: the charge fits, but nothing is written."""
