"""The admission chain: plugins in upstream's order, mutating first, then validating.

kube-apiserver runs every enabled plugin in one fixed order (``ORDER`` below is upstream's order
restricted to the plugins kubeplane implements), whatever order the flags name them in. The store
calls ``admit`` after defaulting and before validation, and ``validate`` after validation, right
before the storage write, for CREATE, UPDATE and DELETE alike, dry-run included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kubeplane.apiserver.admission.attributes import Attributes, User
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.plugin import MutatingPlugin, ValidatingPlugin
from kubeplane.apiserver.registry.context import RequestContext

if TYPE_CHECKING:
    from kubeplane.apiserver.registry.store import Store

log = logging.getLogger(__name__)
JSON = dict[str, Any]

NAMESPACE_LIFECYCLE = "NamespaceLifecycle"
LIMIT_RANGER = "LimitRanger"
SERVICE_ACCOUNT = "ServiceAccount"
NODE_RESTRICTION = "NodeRestriction"
POD_SECURITY = "PodSecurity"
PRIORITY = "Priority"
DEFAULT_TOLERATION_SECONDS = "DefaultTolerationSeconds"
DEFAULT_STORAGE_CLASS = "DefaultStorageClass"
MUTATING_WEBHOOK = "MutatingAdmissionWebhook"
VALIDATING_WEBHOOK = "ValidatingAdmissionWebhook"
RESOURCE_QUOTA = "ResourceQuota"

# Upstream's plugin order (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins), kubeplane's subset.
ORDER: tuple[str, ...] = (
    NAMESPACE_LIFECYCLE, LIMIT_RANGER, SERVICE_ACCOUNT, NODE_RESTRICTION, POD_SECURITY, PRIORITY,
    DEFAULT_TOLERATION_SECONDS, DEFAULT_STORAGE_CLASS, MUTATING_WEBHOOK, VALIDATING_WEBHOOK, RESOURCE_QUOTA,
)
# Upstream's default-on plugins that kubeplane implements (NodeRestriction is opt-in upstream too;
# EKS turns it on with --enable-admission-plugins).
DEFAULT_ON: frozenset[str] = frozenset(ORDER) - {NODE_RESTRICTION}


class AdmissionConfigError(ValueError):
    """Bad --enable/--disable-admission-plugins or --admission-control-config-file."""


def enabled_plugins(enable: Iterable[str] = (), disable: Iterable[str] = ()) -> list[str]:
    """Default-on plugins plus ``enable`` minus ``disable``, in upstream's order."""
    enable, disable = {p for p in enable if p}, {p for p in disable if p}
    for flag, names in (("enable-admission-plugins", enable), ("disable-admission-plugins", disable)):
        for name in sorted(names):
            if name not in ORDER:
                raise AdmissionConfigError(f'{flag} plugin "{name}" is unknown')
    both = enable & disable
    if both:
        raise AdmissionConfigError(f"{sorted(both)} in enable-admission-plugins and disable-admission-plugins "
                                   "overlapped")
    wanted = (DEFAULT_ON | enable) - disable
    return [name for name in ORDER if name in wanted]


@dataclass
class AdmissionConfig:
    """Per-plugin configuration from an AdmissionConfiguration file (apiserver.config.k8s.io)."""

    plugins: dict[str, JSON] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> AdmissionConfig:
        if not path:
            return cls()
        base = Path(path)
        try:
            doc = yaml.safe_load(base.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AdmissionConfigError(f"reading admission config {path}: {exc}") from exc
        if doc.get("kind") != "AdmissionConfiguration":
            raise AdmissionConfigError(f"{path}: want kind AdmissionConfiguration, got {doc.get('kind')!r}")
        plugins: dict[str, JSON] = {}
        for entry in doc.get("plugins") or ():
            name = entry.get("name", "")
            config = entry.get("configuration")
            if config is None and entry.get("path"):
                plugin_path = Path(entry["path"])
                plugin_path = plugin_path if plugin_path.is_absolute() else base.parent / plugin_path
                try:
                    config = yaml.safe_load(plugin_path.read_text()) or {}
                except (OSError, yaml.YAMLError) as exc:
                    raise AdmissionConfigError(f"reading {name} configuration {plugin_path}: {exc}") from exc
            plugins[name] = config or {}
        return cls(plugins)


class AdmissionChain:
    def __init__(self, plugins: Sequence[MutatingPlugin | ValidatingPlugin]) -> None:
        self.plugins = list(plugins)
        self.mutating = [p for p in plugins if isinstance(p, MutatingPlugin)]
        self.validating = [p for p in plugins if isinstance(p, ValidatingPlugin)]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.plugins]

    async def start(self) -> None:
        for plugin in self.plugins:
            start = getattr(plugin, "start", None)
            if start is not None:
                await start()

    async def stop(self) -> None:
        for plugin in reversed(self.plugins):
            stop = getattr(plugin, "stop", None)
            if stop is not None:
                await stop()

    # -- the store's Admission protocol -------------------------------------------------------------
    async def admit(self, ctx: RequestContext, store: Store, operation: str, obj: JSON | None,
                    old: JSON | None, options: JSON | None = None) -> None:
        if not self.mutating:
            return
        attrs = attributes(ctx, store, operation, obj, old, options)
        for plugin in self.mutating:
            await plugin.admit(attrs)

    async def validate(self, ctx: RequestContext, store: Store, operation: str, obj: JSON | None,
                       old: JSON | None, options: JSON | None = None) -> None:
        if not self.validating:
            return
        attrs = attributes(ctx, store, operation, obj, old, options)
        for plugin in self.validating:
            await plugin.validate(attrs)


def attributes(ctx: RequestContext, store: Store, operation: str, obj: JSON | None, old: JSON | None,
               options: JSON | None) -> Attributes:
    meta = (obj if obj is not None else old or {}).get("metadata") or {}
    if options is None:
        kind = "CreateOptions" if operation == "CREATE" else "UpdateOptions"
        options = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
        if ctx.field_manager:
            options["fieldManager"] = ctx.field_manager
        if ctx.dry_run:
            options["dryRun"] = ["All"]
    return Attributes(
        operation=operation, resource=store.info, namespace=ctx.namespace if store.info.namespaced else "",
        name=meta.get("name") or "", object=obj, old_object=old,
        user=User(ctx.user, tuple(ctx.groups), ctx.user_uid, dict(ctx.user_extra)),
        subresource=ctx.subresource, dry_run=ctx.dry_run, options=options, warnings=ctx.warnings,
        undo=ctx.admission_undo, redefault=store.strategy.default, audit_annotations=ctx.audit_annotations)


PluginFactory = Callable[[ClusterObjects, JSON], MutatingPlugin | ValidatingPlugin]


def build_chain(objects: ClusterObjects, names: Sequence[str], config: AdmissionConfig | None = None,
                factories: dict[str, PluginFactory] | None = None) -> AdmissionChain:
    """One plugin per enabled name, in upstream's order."""
    from kubeplane.apiserver.admission.registry import PLUGINS

    factories = factories or PLUGINS
    config = config or AdmissionConfig()
    plugins = [factories[name](objects, config.plugins.get(name, {})) for name in ORDER if name in names]
    log.info("admission plugins: %s", ", ".join(p.name for p in plugins))
    return AdmissionChain(plugins)
