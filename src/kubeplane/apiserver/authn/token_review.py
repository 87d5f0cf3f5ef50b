"""TokenReview (authentication.k8s.io/v1): ask the API server's token authenticators about a token.

Computed, never stored. The answer carries the user and the audiences the token is valid for, or
``authenticated: false`` with the reason in ``status.error``, as upstream's REST handler does.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeplane.apiserver.authn.chain import RequestAuthenticator, Unauthenticated
from kubeplane.apiserver.authn.types import JSON, with_authenticated_group
from kubeplane.machinery import errors


def user_info_json(name: str, uid: str, groups: tuple[str, ...], extra: Any) -> JSON:
    info: JSON = {"username": name}
    if uid:
        info["uid"] = uid
    if groups:
        info["groups"] = list(groups)
    if extra:
        info["extra"] = {k: list(v) for k, v in extra.items()}
    return info


async def token_review(authenticator: RequestAuthenticator, body: Any) -> JSON:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a TokenReview")
    spec = body.get("spec") or {}
    token = spec.get("token") or ""
    if not isinstance(token, str) or not token:
        raise errors.bad_request("token is required for TokenReview in authentication")
    audiences = [str(a) for a in spec.get("audiences") or ()] or list(authenticator.api_audiences)
    out = copy.deepcopy(body)
    out["apiVersion"], out["kind"] = "authentication.k8s.io/v1", "TokenReview"
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    try:
        result = await authenticator.authenticate_token(token, audiences)
    except Unauthenticated as exc:
        out["status"] = {"authenticated": False, "user": {}, "error": str(exc)}
        return out
    user = with_authenticated_group(result.user)
    out["status"] = {"authenticated": True, "user": user_info_json(user.name, user.uid, user.groups, user.extra),
                     "audiences": list(result.audiences)}
    return out
