"""RBAC objects: writes go through escalation prevention (you cannot grant what you do not hold,
unless you hold ``escalate`` on roles or ``bind`` on the referenced role)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.authz import EscalationGuard, UserInfo
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import Store

JSON = dict[str, Any]


def requesting_user(ctx: RequestContext) -> UserInfo | None:
    """None for the server's own writes (bootstrap policy), which are never escalation-checked."""
    return UserInfo(ctx.user, ctx.groups) if ctx.user else None


class RBACStore(Store):
    guard: EscalationGuard | None = None

    def _check(self, ctx: RequestContext, new: JSON, old: JSON | None) -> None:
        if self.guard is None:
            return
        user = requesting_user(ctx)
        if self.info.resource in ("roles", "clusterroles"):
            self.guard.check_role_write(user, self.info.resource, ctx.namespace, new, old)
        else:
            self.guard.check_binding_write(user, self.info.resource, ctx.namespace, new, old)

    async def before_create(self, ctx: RequestContext, obj: JSON) -> None:
        self._check(ctx, obj, None)

    async def before_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        self._check(ctx, new, old)
