"""Plugin registry: a plugin's name mapped to the factory that builds it for a profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeplane.scheduler.framework.interface import Handle, Plugin

PluginArgs = dict[str, Any]
PluginFactory = Callable[[PluginArgs, Handle], Plugin]
Registry = dict[str, PluginFactory]


def merge(*registries: Registry) -> Registry:
    """One registry from several (out-of-tree plugins next to the in-tree ones); names must not clash."""
    merged: Registry = {}
    for registry in registries:
        for name, factory in registry.items():
            if name in merged:
                raise ValueError(f"a plugin named {name!r} already exists")
            merged[name] = factory
    return merged
