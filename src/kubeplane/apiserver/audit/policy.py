"""The audit policy (audit.k8s.io/v1 Policy): which requests are logged, at what level.

Rules are tried in order and the first match decides (upstream's policy checker): a rule matches
when every selector it sets matches (users, userGroups, verbs, then either resources/namespaces or
nonResourceURLs). No matching rule means level None: the request is not logged.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplane.apiserver.authz import UserInfo
from kubeplane.apiserver.requestinfo import RequestInfo
from kubeplane.machinery.configfile import read_yaml_file, typed_document

API_VERSION = "audit.k8s.io/v1"


class PolicyError(ValueError):
    """The policy file is unreadable or invalid (the API server refuses to start)."""


class Level(enum.IntEnum):
    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def wire(self) -> str:
        return _LEVEL_NAMES[self]

    @classmethod
    def parse(cls, text: Any, where: str) -> Level:
        for level, name in _LEVEL_NAMES.items():
            if text == name:
                return level
        raise PolicyError(f"{where}: level {text!r} is not one of {', '.join(_LEVEL_NAMES.values())}")


_LEVEL_NAMES = {Level.NONE: "None", Level.METADATA: "Metadata", Level.REQUEST: "Request",
                Level.REQUEST_RESPONSE: "RequestResponse"}


class Stage(enum.StrEnum):
    REQUEST_RECEIVED = "RequestReceived"
    RESPONSE_STARTED = "ResponseStarted"
    RESPONSE_COMPLETE = "ResponseComplete"
    PANIC = "Panic"


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    def matches(self, info: RequestInfo) -> bool:
        if self.group != info.api_group:
            return False
        if not self.resources:
            return True
        if self.resource_names and info.name not in self.resource_names:
            return False
        combined = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
        for pattern in self.resources:
            if pattern in ("*", combined):
                return True
            if info.subresource and pattern.startswith("*/") and pattern[2:] == info.subresource:
                return True
            if pattern.endswith("/*") and pattern[:-2] == info.resource:
                return True
        return False


@dataclass(frozen=True)
class PolicyRule:
    level: Level
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: tuple[GroupResources, ...] = ()
    namespaces: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool | None = None

    def matches(self, user: UserInfo | None, info: RequestInfo) -> bool:
        if self.users and (user is None or user.name not in self.users):
            return False
        if self.user_groups and (user is None or not self.user_groups.intersection(user.groups)):
            return False
        if self.verbs and info.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return self._matches_resource(info)
        if self.non_resource_urls:
            return not info.is_resource_request and any(_path_matches(info.path, spec)
                                                        for spec in self.non_resource_urls)
        return True

    def _matches_resource(self, info: RequestInfo) -> bool:
        if not info.is_resource_request:
            return False
        # Cluster-scoped resources have the empty namespace, which a rule may list as "".
        if self.namespaces and info.namespace not in self.namespaces:
            return False
        return not self.resources or any(gr.matches(info) for gr in self.resources)


def _path_matches(path: str, spec: str) -> bool:
    if spec in ("*", path):
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


@dataclass(frozen=True)
class RequestAuditConfig:
    """What the policy says about one request."""

    level: Level = Level.NONE
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool = False


DO_NOT_AUDIT = RequestAuditConfig()


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...] = ()
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, user: UserInfo | None, info: RequestInfo) -> RequestAuditConfig:
        for rule in self.rules:
            if rule.matches(user, info):
                if rule.level == Level.NONE:
                    return DO_NOT_AUDIT
                omit_fields = self.omit_managed_fields if rule.omit_managed_fields is None \
                    else rule.omit_managed_fields
                return RequestAuditConfig(rule.level, self.omit_stages | rule.omit_stages, omit_fields)
        return DO_NOT_AUDIT

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        document = read_yaml_file(path, "audit policy", PolicyError)
        return cls.parse(document)

    @classmethod
    def parse(cls, document: Any) -> Policy:
        document = typed_document(document, "audit policy", API_VERSION, "Policy", PolicyError)
        rules = document.get("rules") or []
        if not isinstance(rules, list):
            raise PolicyError("rules: not a list")
        return cls(rules=tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules)),
                   omit_stages=_stages(document.get("omitStages"), "omitStages"),
                   omit_managed_fields=_bool(document.get("omitManagedFields"), "omitManagedFields") or False)


def _rule(raw: Any, where: str) -> PolicyRule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: not an object")
    resources = tuple(_group_resources(gr, f"{where}.resources[{i}]")
                      for i, gr in enumerate(_list(raw.get("resources"), f"{where}.resources")))
    namespaces = _strings(raw.get("namespaces"), f"{where}.namespaces", allow_empty_items=True)
    urls = _strings(raw.get("nonResourceURLs"), f"{where}.nonResourceURLs")
    if urls and (resources or namespaces):
        raise PolicyError(f"{where}: rules cannot apply to both regular resources and non-resource URLs")
    for url in urls:
        if not url.startswith("/") and url != "*":
            raise PolicyError(f"{where}.nonResourceURLs: {url!r} must start with '/' or be '*'")
        if "*" in url[:-1]:
            raise PolicyError(f"{where}.nonResourceURLs: {url!r}: '*' is only allowed at the end")
    return PolicyRule(
        level=Level.parse(raw.get("level"), where),
        users=frozenset(_strings(raw.get("users"), f"{where}.users")),
        user_groups=frozenset(_strings(raw.get("userGroups"), f"{where}.userGroups")),
        verbs=frozenset(_strings(raw.get("verbs"), f"{where}.verbs")),
        resources=resources, namespaces=frozenset(namespaces), non_resource_urls=urls,
        omit_stages=_stages(raw.get("omitStages"), f"{where}.omitStages"),
        omit_managed_fields=_bool(raw.get("omitManagedFields"), f"{where}.omitManagedFields"))


def _group_resources(raw: Any, where: str) -> GroupResources:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: not an object")
    group = raw.get("group", "") or ""
    if not isinstance(group, str):
        raise PolicyError(f"{where}.group: not a string")
    resources = _strings(raw.get("resources"), f"{where}.resources")
    names = _strings(raw.get("resourceNames"), f"{where}.resourceNames")
    for resource in resources:
        if resource.count("/") > 1:
            raise PolicyError(f"{where}.resources: {resource!r} is not resource, resource/subresource "
                              "or a wildcard form of them")
    if names and not resources:
        raise PolicyError(f"{where}.resourceNames: using resourceNames requires at least one resource")
    return GroupResources(group, resources, names)


def _list(raw: Any, where: str) -> Sequence[Any]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: not a list")
    return raw


def _strings(raw: Any, where: str, allow_empty_items: bool = False) -> tuple[str, ...]:
    items = _list(raw, where)
    if not all(isinstance(s, str) and (s or allow_empty_items) for s in items):
        raise PolicyError(f"{where}: want a list of non-empty strings")
    return tuple(items)


def _stages(raw: Any, where: str) -> frozenset[Stage]:
    out = set()
    for name in _strings(raw, where):
        try:
            out.add(Stage(name))
        except ValueError:
            raise PolicyError(f"{where}: {name!r} is not a stage "
                              f"({', '.join(s.value for s in Stage)})") from None
    return frozenset(out)


def _bool(raw: Any, where: str) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise PolicyError(f"{where}: not a boolean")
