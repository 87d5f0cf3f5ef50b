"""Turn a request path into what it asks for (upstream's RequestInfoFactory).

``/api/v1/namespaces/ns/pods/name/status`` -> group "", version v1, namespace ns, resource pods,
name, subresource status; the verb comes from the method plus the query (``watch``) and whether
a name is present (list vs get, deletecollection vs delete).
"""

from __future__ import annotations

from dataclasses import dataclass

# Paths under these prefixes name API resources; everything else is a non-resource URL.
API_PREFIXES = ("api", "apis")


@dataclass
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str = ""
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


def parse_request_info(method: str, path: str, query_watch: bool) -> RequestInfo:
    parts = [p for p in path.strip("/").split("/") if p != ""]
    info = RequestInfo(is_resource_request=False, path=path, verb=method.lower())
    if not parts or parts[0] not in API_PREFIXES:
        return info
    info.api_prefix = parts[0]
    rest = parts[1:]
    if info.api_prefix == "api":
        if not rest:
            return info
        info.api_version, rest = rest[0], rest[1:]
    else:
        if len(rest) < 2:
            if rest:
                info.api_group = rest[0]
            return info
        info.api_group, info.api_version, rest = rest[0], rest[1], rest[2:]
    if not rest:
        return info
    info.is_resource_request = True
    verb = _METHOD_VERBS.get(method.upper(), "")
    # The legacy /watch/ path prefix.
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]
        if not rest:
            info.is_resource_request = False
            return info
    # /namespaces/NAME/pods/... is namespaced; /namespaces/NAME[/status|/finalize] is the namespace itself.
    namespace_object = False
    if rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            namespace_object = True
    info.resource = rest[0]
    if len(rest) >= 2:
        info.name = rest[1]
    if len(rest) >= 3:
        info.subresource = rest[2]
    if namespace_object:
        # The namespace object lives at cluster scope; its name is the namespace segment.
        info.namespace = ""
    info.parts = tuple(rest)
    # ?watch turns a collection GET into a watch; a GET by name stays a get (upstream: "if there's
    # no name on the request"); the legacy /watch/ paths set the verb above.
    if verb == "get" and not info.name:
        verb = "watch" if query_watch else "list"
    elif verb == "delete" and not info.name:
        verb = "deletecollection"
    info.verb = verb
    return info
