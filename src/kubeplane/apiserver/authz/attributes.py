"""Who asks to do what (upstream's user.Info and authorizer.Attributes) and what an authorizer says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = dict[str, Any]

SYSTEM_MASTERS = "system:masters"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups the authenticator gives a service account (it also adds system:authenticated)."""
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (resource requests and non-resource URLs alike)."""

    user: UserInfo
    verb: str
    is_resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = "*"
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Decision:
    """``allowed``/``denied`` both false is upstream's DecisionNoOpinion (the next authorizer decides)."""

    allowed: bool
    reason: str = ""
    denied: bool = False
    evaluation_error: str = ""


NO_OPINION = Decision(False)


@dataclass
class RuleSet:
    """What a subject may do in a namespace, as SelfSubjectRulesReview reports it (rules are wire dicts)."""

    resource_rules: list[JSON] = field(default_factory=list)
    non_resource_rules: list[JSON] = field(default_factory=list)
    incomplete: bool = False
    evaluation_error: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet: ...
