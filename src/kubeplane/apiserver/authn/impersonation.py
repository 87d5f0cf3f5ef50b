"""Impersonation headers (``kubectl --as``, ``--as-group``, ``--as-uid``), as upstream's filter.

Each requested attribute is authorized separately with the ``impersonate`` verb: ``users`` (or
``serviceaccounts`` in the account's namespace), ``groups``, ``uids`` and ``userextras/<key>`` in
authentication.k8s.io. Any refusal is upstream's 403 for that attribute; groups, uid or extra without a
user is 400. The request then proceeds as the impersonated user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import unquote

from kubeplane.apiserver.authn.types import (
    ANONYMOUS_USER,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
)
from kubeplane.apiserver.authz import Attributes, Authorizer, UserInfo, service_account_groups
from kubeplane.apiserver.authz.attributes import SERVICE_ACCOUNT_USER_PREFIX
from kubeplane.machinery import errors

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
AUTHENTICATION_GROUP = "authentication.k8s.io"

Forbidden = Callable[[Attributes, str], errors.StatusError]


class Headers:
    """The few operations needed on a case-insensitive multi-valued header mapping."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Headers:
        return cls(list(headers.items()))

    def all(self, name: str) -> list[str]:
        lower = name.lower()
        return [v for k, v in self.items if k.lower() == lower]

    def extras(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self.items:
            if key.lower().startswith(EXTRA_PREFIX):
                out.setdefault(unquote(key[len(EXTRA_PREFIX):].lower()), []).append(value)
        return out


def requested(headers: Headers) -> bool:
    return bool(headers.all(USER_HEADER) or headers.all(GROUP_HEADER) or headers.all(UID_HEADER)
                or headers.extras())


def impersonate(headers: Headers, user: UserInfo, authorizer: Authorizer | None, forbidden: Forbidden) -> UserInfo:
    """The user the request acts as; ``user`` unchanged when no impersonation header is present."""
    names, groups, uids, extra = headers.all(USER_HEADER), headers.all(GROUP_HEADER), headers.all(UID_HEADER), \
        headers.extras()
    if not (names or groups or uids or extra):
        return user
    if not names:
        asked = [h for h, v in ((GROUP_HEADER, groups), (UID_HEADER, uids), ("Impersonate-Extra-", extra)) if v]
        raise errors.bad_request(f"requested {asked} without impersonating a user")
    if len(names) > 1 or len(uids) > 1:
        raise errors.bad_request("only one user and one uid may be impersonated")
    name = names[0]
    checks: list[Attributes] = []
    acting_groups = list(groups)
    if name.startswith(SERVICE_ACCOUNT_USER_PREFIX) and name.count(":") == 3:
        namespace, account = name[len(SERVICE_ACCOUNT_USER_PREFIX):].split(":")
        checks.append(Attributes(user, "impersonate", namespace=namespace, api_version="v1",
                                 resource="serviceaccounts", name=account))
        if not groups:  # a service account's groups are a fixed mapping
            acting_groups = list(service_account_groups(namespace))
    else:
        checks.append(Attributes(user, "impersonate", api_version="v1", resource="users", name=name))
    checks += [Attributes(user, "impersonate", api_version="v1", resource="groups", name=g) for g in groups]
    checks += [Attributes(user, "impersonate", api_group=AUTHENTICATION_GROUP, api_version="v1",
                          resource="uids", name=u) for u in uids]
    checks += [Attributes(user, "impersonate", api_group=AUTHENTICATION_GROUP, api_version="v1",
                          resource="userextras", subresource=key, name=value)
               for key, values in extra.items() for value in values]
    if authorizer is not None:
        for attrs in checks:
            decision = authorizer.authorize(attrs)
            if not decision.allowed:
                raise forbidden(attrs, decision.reason)
    implied = UNAUTHENTICATED_GROUP if name == ANONYMOUS_USER else AUTHENTICATED_GROUP
    if implied not in acting_groups:
        acting_groups.append(implied)
    return UserInfo(name, tuple(acting_groups), uids[0] if uids else "", extra)
