"""Computed, never-stored kinds: access and rules reviews (``kubectl auth can-i``) and
SelfSubjectReview (``kubectl auth whoami``); plus the Forbidden error authorization answers with."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubeplane.apiserver.authz import (
    Attributes,
    Authorizer,
    UserInfo,
    local_subject_access_review,
    self_subject_access_review,
    self_subject_rules_review,
    subject_access_review,
)
from kubeplane.machinery import errors

JSON = dict[str, Any]
AUTHENTICATED_GROUP = "system:authenticated"
# TokenReview is answered by the authenticators (``authn.token_review``), not an authorizer.
TOKEN_REVIEW = ("authentication.k8s.io", "tokenreviews")

Review = Callable[[Authorizer, UserInfo, str, JSON], JSON]


def _self_subject_review(authorizer: Authorizer, user: UserInfo, namespace: str, review: JSON) -> JSON:
    out = copy.deepcopy(review)
    info: JSON = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    out["status"] = {"userInfo": info}
    return out


REVIEW_RESOURCES: dict[tuple[str, str], Review] = {
    ("authorization.k8s.io", "subjectaccessreviews"):
        lambda authz, user, ns, review: subject_access_review(authz, review),
    ("authorization.k8s.io", "localsubjectaccessreviews"):
        lambda authz, user, ns, review: local_subject_access_review(authz, ns, review),
    ("authorization.k8s.io", "selfsubjectaccessreviews"):
        lambda authz, user, ns, review: self_subject_access_review(authz, user, review),
    ("authorization.k8s.io", "selfsubjectrulesreviews"):
        lambda authz, user, ns, review: self_subject_rules_review(authz, user, review),
    ("authentication.k8s.io", "selfsubjectreviews"): _self_subject_review,
}


def forbidden_error(attrs: Attributes, reason: str) -> errors.StatusError:
    """Upstream's message: ``pods is forbidden: User "bob" cannot list resource "pods" in API group ""
    in the namespace "default"`` (``at the cluster scope`` without a namespace)."""
    user = attrs.user.name
    if not attrs.is_resource_request:
        message = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        if reason:
            message += f": {reason}"
        return errors.StatusError(403, "Forbidden", f"forbidden: {message}")
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {scope}'
    if reason:
        message += f": {reason}"
    return errors.forbidden(attrs.api_group, attrs.resource, attrs.name, message)
