"""The authorization.k8s.io review resources: SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectAccessReview and SelfSubjectRulesReview (``kubectl auth can-i`` and ``--list``).

Each helper takes the posted review and returns it with the ``status`` upstream fills in.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.apiserver.authz.attributes import Attributes, Authorizer, Decision, UserInfo
from kubeplane.machinery import errors
from kubeplane.machinery.labels import field_invalid

JSON = dict[str, Any]

AUTHZ_GROUP = "authorization.k8s.io"


def _cause(path: str, value: Any, detail: str) -> errors.Cause:
    # field_invalid prints "path: Invalid value: v: detail"; errors.invalid adds the path back itself.
    return errors.Cause("FieldValueInvalid", field_invalid(path, value, detail).split(": ", 1)[1], path)


def _invalid(kind: str, review: JSON, causes: list[errors.Cause]) -> errors.StatusError:
    return errors.invalid(AUTHZ_GROUP, kind, review.get("metadata", {}).get("name", ""), causes)


def _validate(kind: str, review: JSON, need_subject: bool) -> None:
    spec = review.get("spec") or {}
    has_resource = spec.get("resourceAttributes") is not None
    has_non_resource = spec.get("nonResourceAttributes") is not None
    causes: list[errors.Cause] = []
    if has_resource and has_non_resource:
        causes.append(_cause("spec.nonResourceAttributes", "object",
                             "cannot be specified in combination with resourceAttributes"))
    if not has_resource and not has_non_resource:
        causes.append(_cause("spec.resourceAttributes", "null",
                             "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    if need_subject and not spec.get("user") and not spec.get("groups"):
        causes.append(_cause("spec.user", spec.get("user", ""), "at least one of user or group must be specified"))
    if causes:
        raise _invalid(kind, review, causes)


def attributes_from_spec(spec: JSON, user: UserInfo) -> Attributes:
    """Upstream's AuthorizationAttributesFrom: an empty version means every version."""
    resource = spec.get("resourceAttributes")
    if resource is not None:
        return Attributes(user=user, verb=resource.get("verb", ""), is_resource_request=True,
                          namespace=resource.get("namespace", ""), api_group=resource.get("group", ""),
                          api_version=resource.get("version") or "*", resource=resource.get("resource", ""),
                          subresource=resource.get("subresource", ""), name=resource.get("name", ""))
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(user=user, verb=non_resource.get("verb", ""), is_resource_request=False,
                      path=non_resource.get("path", ""))


def user_from_spec(spec: JSON) -> UserInfo:
    return UserInfo(name=spec.get("user", ""), groups=tuple(spec.get("groups") or ()), uid=spec.get("uid", ""),
                    extra={k: list(v) for k, v in (spec.get("extra") or {}).items()})


def access_review_status(decision: Decision) -> JSON:
    status: JSON = {"allowed": decision.allowed}
    if decision.denied:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    if decision.evaluation_error:
        status["evaluationError"] = decision.evaluation_error
    return status


def _answer(authorizer: Authorizer, review: JSON, user: UserInfo) -> JSON:
    out = copy.deepcopy(review)
    out["status"] = access_review_status(authorizer.authorize(attributes_from_spec(out.get("spec") or {}, user)))
    return out


def subject_access_review(authorizer: Authorizer, review: JSON) -> JSON:
    _validate("SubjectAccessReview", review, need_subject=True)
    return _answer(authorizer, review, user_from_spec(review.get("spec") or {}))


def local_subject_access_review(authorizer: Authorizer, namespace: str, review: JSON) -> JSON:
    """``namespace`` is the request path's; the review must be about that namespace."""
    if not namespace:
        raise errors.bad_request("namespace is required on this type: ")
    spec = review.get("spec") or {}
    if spec.get("nonResourceAttributes") is not None:
        raise _invalid("LocalSubjectAccessReview", review, [
            _cause("spec.nonResourceAttributes", "object", "disallowed on this kind of request")])
    _validate("LocalSubjectAccessReview", review, need_subject=True)
    if (spec.get("resourceAttributes") or {}).get("namespace", "") != namespace:
        raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
    return _answer(authorizer, review, user_from_spec(spec))


def self_subject_access_review(authorizer: Authorizer, user: UserInfo, review: JSON) -> JSON:
    """The subject is the requesting user, whatever the spec says."""
    _validate("SelfSubjectAccessReview", review, need_subject=False)
    return _answer(authorizer, review, user)


def self_subject_rules_review(authorizer: Authorizer, user: UserInfo, review: JSON) -> JSON:
    namespace = (review.get("spec") or {}).get("namespace", "")
    if not namespace:
        raise errors.bad_request("no namespace on request")
    rules = authorizer.rules_for(user, namespace)
    out = copy.deepcopy(review)
    status: JSON = {"resourceRules": rules.resource_rules, "nonResourceRules": rules.non_resource_rules,
                    "incomplete": rules.incomplete}
    if rules.evaluation_error:
        status["evaluationError"] = rules.evaluation_error
    out["status"] = status
    return out
