"""The HTTP front of the API server: authentication of the TLS peer, routing, error shaping.

Everything is one catch-all route: the path is parsed into a RequestInfo, non-resource paths
(health, version, discovery, OpenAPI, metrics) are answered from small tables, resource paths go to
the verb handlers. Any exception becomes a ``Status``; no traceback ever reaches a client.
"""

from __future__ import annotations

import gc
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from kubeplane.apiserver import audit as auditing
from kubeplane.apiserver import discovery, openapi, openapi_proto
from kubeplane.apiserver.apiextensions import discovery as custom_discovery
from kubeplane.apiserver.apiextensions.handler import CustomResourceHandler
from kubeplane.apiserver.apiextensions.serving import CustomResourceServing
from kubeplane.apiserver.authn import Authentication, Headers, Unauthenticated, impersonate, token_review
from kubeplane.apiserver.authz import (
    Attributes,
    Authorizer,
    PrivilegedGroupsAuthorizer,
    UnionAuthorizer,
    UserInfo,
)
from kubeplane.apiserver.endpoints import eviction, proxy, subresources
from kubeplane.apiserver.endpoints.handlers import PATCH_TYPES, ResourceHandler, Response
from kubeplane.apiserver.endpoints.options import WriteQuery, query_flag
from kubeplane.apiserver.endpoints.responses import Body, EncodedBodyResponse, EncodedList, respond
from kubeplane.apiserver.endpoints.reviews import REVIEW_RESOURCES, TOKEN_REVIEW, forbidden_error
from kubeplane.apiserver.endpoints.watch import serve_watch
from kubeplane.apiserver.negotiation import JSON_TYPE, Representation, decode_body, encode, negotiate_output
from kubeplane.apiserver.registry.context import FIELD_VALIDATION_IGNORE, RequestContext
from kubeplane.apiserver.registry.core.ephemeral_containers import EphemeralContainersStrategy
from kubeplane.apiserver.registry.core.namespaces import NamespaceFinalizeStrategy
from kubeplane.apiserver.registry.registry import Registry
from kubeplane.apiserver.registry.strategy import StatusStrategy
from kubeplane.apiserver.requestinfo import RequestInfo, parse_request_info
from kubeplane.catalog import Catalog, version_info
from kubeplane.machinery import errors, validation
from kubeplane.machinery.schema import schemas

log = logging.getLogger(__name__)

MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
# Paths anyone may read (upstream's system:public-info-viewer, which grants "get" only). Health
# reads are answered before authorization so probes work while the authorizer's RBAC view is still
# loading; /version goes through RBAC when anonymous access is on, and is read without credentials
# when it is off. Other methods on these paths are authorized like any request.
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
_HEALTH_PREFIXES = tuple(p + "/" for p in HEALTH_PATHS)

REQUESTS = Counter("apiserver_request_total", "API requests", ["verb", "resource", "code"])
LATENCY = Histogram("apiserver_request_duration_seconds", "API request latency", ["verb", "resource"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


@dataclass
class HealthChecks:
    """Named readiness checks (``/readyz/etcd`` ...), each an async callable returning None or raising."""

    checks: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)


def _peer_cert(request: web.Request) -> dict[str, Any] | None:
    """The client certificate the TLS layer verified against the client CA (None without one)."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    return cert or None


async def _expect_continue(request: web.Request) -> web.Response | None:
    """``Expect: 100-continue`` as aiohttp does; any other expectation is 417 as in Go's net/http.
    aiohttp's own handler echoes the header into its error text and fails (500) on bytes that are
    not UTF-8."""
    if request.headers.get("Expect", "").lower() == "100-continue":
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0
        return None
    return web.Response(status=417, text="unknown Expect header")


# Young-generation size between cyclic collections. Requests allocate many short-lived dicts that
# reference counting frees (JSON has no cycles), but every allocation still counts towards
# CPython's default threshold of 700, so collections ran every few requests and each one walked
# the watch cache's projections and the schemas: ~15% of a pod create's CPU at concurrency 32.
GC_YOUNG_THRESHOLD = 50_000


def tune_garbage_collection() -> None:
    """Called once the server's long-lived state (schemas, catalog, registry) is built: that state
    moves to the permanent generation, which collections never walk, and collections run less
    often. Cycles are still collected; only their timing changes."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def _status_response(err: errors.StatusError) -> web.Response:
    headers = {}
    if err.retry_after_seconds:
        headers["Retry-After"] = str(err.retry_after_seconds)
    return web.Response(status=err.code, body=encode(err.to_status()), content_type="application/json",
                        headers=headers)


class APIServer:
    # Audit logging; the app sets it from the --audit-* flags. Disabled, it only issues Audit-Ids.
    audit: auditing.Auditor = auditing.DISABLED

    def __init__(self, catalog: Catalog, registry: Registry, health: HealthChecks, advertise: str,
                 require_client_cert: bool = True, authorizer: Authorizer | None = None,
                 authentication: Authentication | None = None) -> None:
        self.catalog = catalog
        self.registry = registry
        self.health = health
        self.advertise = advertise
        self.require_client_cert = require_client_cert
        # Without explicit configuration: client certificates only, anonymous unless they are required.
        self.authentication = authentication or Authentication.certificates_only(anonymous=not require_client_cert)
        # None authorizes everything (only for in-process tests of the HTTP layer).
        self.authorizer = authorizer
        self.schemas = schemas(catalog.minor)
        self.handlers: dict[tuple[str, str, str], ResourceHandler] = {}
        for (group, version, resource), store in registry.stores.items():
            info = store.info
            status = StatusStrategy(store.strategy) if "status" in info.subresources else None
            self.handlers[(group, version, resource)] = ResourceHandler(info, store, self.schemas, status)
        self.ready = False
        # Set by the app once CRDs are followed; custom resources' handlers join self.handlers.
        self.custom_resources: CustomResourceServing | None = None
        self._served_catalog: tuple[int, Catalog] = (-1, catalog)
        # OpenAPI documents with custom resources, rebuilt when the served set changes.
        self._custom_documents: dict[str, tuple[int, openapi.Document]] = {}
        # Set by the app: carries pods/log, exec, attach and portforward to kubelets.
        self.kubelets: proxy.KubeletProxy | None = None

    def served_catalog(self) -> Catalog:
        """The catalog discovery describes: the built-ins plus the custom resources served now."""
        if self.custom_resources is None:
            return self.catalog
        generation = self.custom_resources.generation
        if self._served_catalog[0] != generation:
            self._served_catalog = (generation, custom_discovery.ServedCatalog(
                self.catalog, self.custom_resources.resources()))
        return self._served_catalog[1]

    def _custom_document(self, key: str, build: Callable[[], openapi.Document]) -> openapi.Document:
        assert self.custom_resources is not None
        generation = self.custom_resources.generation
        cached = self._custom_documents.get(key)
        if cached is None or cached[0] != generation:
            cached = (generation, build())
            self._custom_documents[key] = cached
        return cached[1]

    def app(self) -> web.Application:
        tune_garbage_collection()
        app = web.Application(client_max_size=MAX_REQUEST_BODY_BYTES + 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle, expect_handler=_expect_continue)
        # aiohttp parses a CONNECT target as an authority, so no route matches and its fallback
        # route's Expect handling (which fails on non-UTF-8 bytes) would run: the API has no
        # CONNECT method at all (exec and friends are upgraded GET/POSTs), so refuse it first.
        resolve = app._handle

        async def handle(request: web.Request) -> web.StreamResponse:
            if request.method == "CONNECT":
                return _status_response(errors.method_not_allowed("the server does not allow this method"))
            return await resolve(request)

        app._handle = handle  # type: ignore[method-assign]
        app.on_response_prepare.append(auditing.on_response_prepare)
        return app

    # -- entry --------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        watch_flag = "watch" in request.query and query_flag(request.query["watch"])
        info = parse_request_info(request.method, request.path, watch_flag)
        audit = self.audit.begin(request, info)
        code = 500
        response: web.StreamResponse | None = None
        try:
            response = await self._dispatch(request, info)
            code = response.status
            return response
        except errors.StatusError as err:
            code = err.code
            response = _status_response(err)
            return response
        except Exception:  # the last line of defence: log it, answer a Status, keep serving
            log.exception("internal error serving %s %s", request.method, request.path)
            audit.panic()
            return _status_response(errors.internal("an unexpected error occurred; see the server log"))
        finally:
            if isinstance(response, EncodedBodyResponse):  # written compressed or in slices
                audit.complete(code, response.plain_body, response.content_type)
            else:
                auditing.complete(audit, code, response)
            if info.verb != "watch":
                LATENCY.labels(info.verb, info.resource).observe(time.perf_counter() - started)
            REQUESTS.labels(info.verb, info.resource, str(code)).inc()

    async def _dispatch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        user = await self._authenticate(request)
        audit = auditing.audit_of(request)
        if audit is not None:
            audit.authenticated(user)
        reading = request.method in ("GET", "HEAD")
        if reading and (request.path in HEALTH_PATHS or request.path.startswith(_HEALTH_PREFIXES)):
            return await self._non_resource(request)
        if user is None:  # no credentials and anonymous access is off
            if reading and request.path in PUBLIC_PATHS:
                return await self._non_resource(request)
            raise errors.StatusError(401, "Unauthorized", "Unauthorized")
        user = impersonate(Headers.of(request.headers), user, self.authorizer, forbidden_error)
        if audit is not None:
            audit.impersonated(user)
        self._authorize(request, info, user)
        if not info.is_resource_request:
            return await self._non_resource(request)
        return await self._resource(request, info, user)

    async def _authenticate(self, request: web.Request) -> UserInfo | None:
        try:
            return await self.authentication.authenticator.authenticate(
                _peer_cert(request), request.headers.get("Authorization"))
        except Unauthenticated as exc:
            log.info("%s %s: authentication failed: %s", request.method, request.path, exc)
            raise errors.StatusError(401, "Unauthorized", "Unauthorized") from exc

    def _authorize(self, request: web.Request, info: RequestInfo, user: UserInfo) -> None:
        if self.authorizer is None:
            return
        if info.is_resource_request:
            attrs = Attributes(user=user, verb=info.verb, namespace=info.namespace, api_group=info.api_group,
                               api_version=info.api_version, resource=info.resource,
                               subresource=info.subresource, name=info.name, path=request.path)
        else:
            attrs = Attributes(user=user, verb=request.method.lower(), is_resource_request=False,
                               path=request.path)
        decision = self.authorizer.authorize(attrs)
        audit = auditing.audit_of(request)
        if audit is not None:
            audit.authorized(decision)
        if not decision.allowed:
            raise forbidden_error(attrs, decision.reason)

    # -- non-resource paths -------------------------------------------------------------------------
    async def _non_resource(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        head = path.split("/")[1] if path != "/" else ""
        if head in ("healthz", "livez", "readyz"):
            return await self._health(request, path)
        if path == "/version":
            return _json(version_info(self.catalog.minor))
        issuer_document = self.authentication.discovery and self.authentication.discovery.document(path)
        if issuer_document:
            return web.Response(body=issuer_document[0], headers=issuer_document[1])
        if path == "/metrics":
            return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
        served = self.served_catalog()
        if path in ("/api", "/apis"):
            content_type = discovery.negotiate_discovery(request.headers.get("Accept"))
            if content_type:
                body = discovery.aggregated(served, core=path == "/api",
                                            version=discovery.aggregated_version(content_type))
                return web.Response(body=encode(body), headers={"Content-Type": content_type})
            if path == "/api":
                return _json(discovery.api_versions(self.advertise))
            return _json(discovery.api_group_list(served))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list(served, "", parts[1])
            if doc is not None:
                return _json(doc)
        if parts[0] == "apis" and len(parts) == 2:
            group_doc = discovery.api_group(served, parts[1])
            if group_doc is not None:
                return _json(group_doc)
        if parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(served, parts[1], parts[2])
            if doc is not None:
                return _json(doc)
        if path == "/openapi/v2":
            # kubectl's client-side validation asks for the protobuf form only.
            protobuf = openapi_proto.wants_protobuf(request.headers.get("Accept", ""))
            if protobuf is None:
                raise errors.not_acceptable(
                    f"only application/json and {openapi_proto.MEDIA_TYPE} are served for /openapi/v2")
            document = openapi.openapi_v2(self.catalog.minor)
            if self.custom_resources is not None and self.custom_resources.served:
                custom = self.custom_resources
                document = self._custom_document("v2", lambda: custom_discovery.openapi_v2(
                    self.catalog.minor, custom.served_crds(), custom.resources()))
            if protobuf:
                proto_body, etag = openapi_proto.protobuf_document(document.body)
                return _document(request, proto_body, etag, openapi_proto.RESPONSE_MEDIA_TYPE)
            return _document(request, document.body, document.etag)
        if path == "/openapi/v3":
            document = openapi.openapi_v3_index(self.catalog.minor)
            if self.custom_resources is not None and self.custom_resources.served:
                custom = self.custom_resources
                document = self._custom_document("v3", lambda: custom_discovery.openapi_v3_index(
                    self.catalog.minor, list(custom.served_crds()), custom.resources()))
            return _document(request, document.body, document.etag)
        if path.startswith("/openapi/v3/"):
            found = openapi.openapi_v3_document(self.catalog.minor, path[len("/openapi/v3/"):])
            if found is None and self.custom_resources is not None:
                found = custom_discovery.openapi_v3_document(
                    self.catalog.minor, list(self.custom_resources.served_crds()), self.custom_resources.resources(),
                    path[len("/openapi/v3/"):])
            if found is not None:
                return _document(request, found.body, found.etag)
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")

    async def _health(self, request: web.Request, path: str) -> web.Response:
        parts = path.strip("/").split("/")
        selected = self.health.checks
        if len(parts) > 1:
            selected = {k: v for k, v in selected.items() if k == parts[1]}
            if not selected and parts[1] != "ping":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        # ?exclude=<check> (repeatable) skips a check and reports it as passed, as upstream.
        excluded = {value.strip() for value in request.query.getall("exclude", []) if value.strip()}
        lines = ["[+]ping excluded: ok" if "ping" in excluded else "[+]ping ok"]
        excluded.discard("ping")
        healthy = True
        for name, check in selected.items():
            if name in excluded:
                excluded.discard(name)
                lines.append(f"[+]{name} excluded: ok")
                continue
            try:
                await check()
                lines.append(f"[+]{name} ok")
            except Exception as exc:
                healthy = False
                lines.append(f"[-]{name} failed: reason withheld")
                log.warning("health check %s failed: %s", name, exc)
        if parts[0] == "readyz" and not self.ready:
            healthy = False
            lines.append("[-]bootstrap failed: not finished")
        if excluded:
            unknown = ",".join(f'"{name}"' for name in sorted(excluded))
            lines.append(f"warn: some health checks cannot be excluded: no matches for {unknown}")
        verbose = "verbose" in request.query
        if healthy:
            text = "\n".join([*lines, f"{parts[0]} check passed"]) + "\n" if verbose else "ok"
            return web.Response(text=text, content_type="text/plain")
        text = "\n".join([*lines, f"{parts[0]} check failed"]) + "\n"
        return web.Response(status=500, text=text, content_type="text/plain")

    # -- resources ----------------------------------------------------------------------------------
    async def _resource(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        handler = self.handlers.get((info.api_group, info.api_version, info.resource))
        if handler is None:
            if info.resource == "bindings" and info.api_group == "" and info.verb == "create":
                return await self._bindings(request, info, user)
            if info.verb == "create" and (info.api_group, info.resource) == TOKEN_REVIEW:
                body = await _read_body(request, self.catalog.minor)
                out = await token_review(self.authentication.authenticator, body)
                return await _respond(request, Response(201, out, []), negotiate_output(request.headers.get("Accept")))
            if info.verb == "create" and (info.api_group, info.resource) in REVIEW_RESOURCES:
                return await self._review(request, info, user)
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        rinfo = handler.info
        if not rinfo.namespaced and info.namespace:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if info.subresource and info.subresource not in rinfo.subresources:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        rep = negotiate_output(request.headers.get("Accept"))
        write = WriteQuery.parse(request.query, info.verb) if info.verb in ("create", "update", "patch", "delete",
                                                                            "deletecollection") else WriteQuery()
        ctx = RequestContext(namespace=info.namespace, user=user.name, groups=user.groups, dry_run=write.dry_run,
                             field_validation=write.field_validation, field_manager=write.field_manager,
                             subresource=info.subresource, user_agent=request.headers.get("User-Agent", ""),
                             user_uid=user.uid, user_extra=user.extra)
        audit = auditing.audit_of(request)
        if audit is not None:
            ctx.audit_annotations = audit.annotation_sink()
        query = request.query
        verb = info.verb
        if verb == "watch":
            return await serve_watch(request, handler, ctx, query, rep, info.name)
        body = None
        # A proxied body is the kubelet's to read, whatever its type.
        if verb in ("create", "update", "patch", "delete", "deletecollection") and info.subresource != "proxy":
            body = await _read_body(request, self.catalog.minor,
                                    ctx if verb in ("create", "update") and not info.subresource else None)
        if info.subresource:
            outcome = await self._subresource(request, handler, info, ctx, body, rep)
            if isinstance(outcome, web.StreamResponse):  # streamed from a kubelet
                return outcome
            result = outcome
        elif verb == "get":
            result = await handler.get(ctx, info.name, query, rep)
        elif verb == "list":
            result = await handler.list(ctx, query, rep)
        elif verb == "create":
            if info.name:
                raise errors.method_not_allowed("POST to a named resource is not supported")
            result = await handler.create(ctx, body, rep, query)
        elif verb == "update":
            result = await handler.update(ctx, info.name, body, rep, query)
        elif verb == "patch":
            result = await handler.patch(ctx, info.name, _patch_type(request), body, rep, query)
        elif verb == "delete":
            result = await handler.delete(ctx, info.name, body, query, rep)
        elif verb == "deletecollection":
            if "deletecollection" not in rinfo.verbs:
                raise errors.method_not_allowed("the server does not allow this method on the requested "
                                                "resource")
            result = await handler.delete_collection(ctx, body, query, rep)
        else:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        return await _respond(request, result, rep)

    async def _subresource(self, request: web.Request, handler: ResourceHandler, info: RequestInfo,
                           ctx: RequestContext, body: Any, rep: Representation) -> Response | web.StreamResponse:
        sub = info.subresource
        verb = info.verb
        query = request.query
        if sub in ("status", "approval") or (sub == "finalize" and verb == "update"):
            strategy = NamespaceFinalizeStrategy(handler.info, self.catalog.minor) if sub == "finalize" \
                else handler.status_strategy or StatusStrategy(handler.store.strategy)
            if verb == "get":
                return await handler.get(ctx, info.name, query, rep)
            if verb == "update":
                return await handler.update(ctx, info.name, body, rep, query, strategy)
            if verb == "patch":
                return await handler.patch(ctx, info.name, _patch_type(request), body, rep, query, strategy)
        if sub == "ephemeralcontainers" and handler.info.resource == "pods" and verb in ("get", "update", "patch"):
            strategy = EphemeralContainersStrategy(handler.store.strategy)
            if verb == "get":
                return await handler.get(ctx, info.name, query, rep)
            if verb == "update":
                return await handler.update(ctx, info.name, body, rep, query, strategy)
            return await handler.patch(ctx, info.name, _patch_type(request), body, rep, query, strategy)
        if sub == "scale":
            return await self._scale(request, handler, info, ctx, body)
        if sub == "binding" and verb == "create":
            out = await subresources.bind_pod(ctx, handler.store, info.name, body)
            return Response(201, out, ctx.warnings)
        if sub == "token" and verb == "create" and handler.info.resource == "serviceaccounts":
            out = await subresources.request_token(ctx, self.authentication.issuer, info.name, body)
            return Response(201, out, ctx.warnings)
        if sub == "eviction" and verb == "create":
            pdbs = self.registry.store("policy", "v1", "poddisruptionbudgets")
            out = await eviction.evict_pod(ctx, handler.store, pdbs, info.name, body)
            return Response(out["code"], out, ctx.warnings)
        if sub == "proxy" and handler.info.resource == "nodes" and self.kubelets is not None:
            # /api/v1/nodes/<name>/proxy/<path...>: parts are ("nodes", name, "proxy", *path).
            return await self.kubelets.serve_node(request, ctx, info.name, "/".join(info.parts[3:]))
        if sub in ("log", "exec", "attach", "portforward", "proxy"):
            pod = await handler.store.get(ctx, info.name)
            if handler.info.resource == "pods" and not (pod.get("spec") or {}).get("nodeName"):
                raise errors.bad_request(f'pod {info.name} does not have a host assigned')
            if handler.info.resource == "pods" and sub in proxy.STREAMING_SUBRESOURCES and self.kubelets is not None:
                return await self.kubelets.serve(request, ctx, pod, sub)
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f"{sub} is not available: no kubelet client is configured")
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    async def _scale(self, request: web.Request, handler: ResourceHandler, info: RequestInfo,
                     ctx: RequestContext, body: Any) -> Response:
        to_scale, apply_scale = (handler.to_scale, handler.apply_scale) \
            if isinstance(handler, CustomResourceHandler) else (subresources.to_scale, subresources.apply_scale)
        if info.verb == "get":
            obj = await handler.store.get(ctx, info.name)
            return Response(200, to_scale(obj), ctx.warnings)
        if info.verb not in ("update", "patch"):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        patch_type = _patch_type(request) if info.verb == "patch" else ""

        async def produce(current: Any) -> Any:
            if current is None:
                raise errors.not_found(handler.info.group, handler.info.resource, info.name)
            scale = body
            if patch_type:
                from kubeplane.machinery.patch import json_patch, merge_patch

                base = to_scale(current)
                scale = json_patch.apply(base, body) if patch_type.startswith("application/json-patch") \
                    else merge_patch.apply(base, body)
            return apply_scale(current, scale)

        obj, _ = await handler.store.update(ctx, info.name, produce)
        return Response(200, to_scale(obj), ctx.warnings)

    async def _review(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        """The review kinds are computed, never stored: POST returns the review with its status."""
        rinfo = self.catalog.lookup(info.api_group, info.api_version, info.resource)
        if rinfo is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        body = await _read_body(request, self.catalog.minor)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON or YAML object")
        body.setdefault("apiVersion", rinfo.group_version)
        body.setdefault("kind", rinfo.kind)
        authorizer = self.authorizer or UnionAuthorizer([PrivilegedGroupsAuthorizer()])
        review = REVIEW_RESOURCES[(info.api_group, info.resource)]
        out = review(authorizer, user, info.namespace, body)
        return await _respond(request, Response(201, out, []), negotiate_output(request.headers.get("Accept")))

    async def _bindings(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.Response:
        pods = self.registry.core("pods")
        body = await _read_body(request, self.catalog.minor)
        name = ((body or {}).get("metadata") or {}).get("name", "") if isinstance(body, dict) else ""
        ctx = RequestContext(namespace=info.namespace, user=user.name, groups=user.groups, user_uid=user.uid,
                             user_extra=user.extra)
        out = await subresources.bind_pod(ctx, pods, name, body)
        return _json(out, 201)


def _patch_type(request: web.Request) -> str:
    media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media not in PATCH_TYPES:
        raise errors.unsupported_media_type(media or "<none>")
    return media


async def _read_body(request: web.Request, minor: str, decoding: RequestContext | None = None) -> Any:
    """The decoded body; with ``decoding`` (a create or update whose fieldValidation reports
    problems), the JSON body's repeated keys are recorded there for strict decoding."""
    if not request.can_read_body:
        return None
    if (request.content_length or 0) > MAX_REQUEST_BODY_BYTES:
        raise errors.request_entity_too_large(f"limit is {MAX_REQUEST_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise errors.request_entity_too_large(f"limit is {MAX_REQUEST_BODY_BYTES}")
        chunks.append(chunk)
    data = b"".join(chunks)
    media = request.headers.get("Content-Type")
    if media and media.split(";")[0].strip().lower() in PATCH_TYPES:
        media = "application/yaml" if "yaml" in media else "application/json"
    body = decode_body(media, data, minor)
    if decoding is not None and decoding.field_validation != FIELD_VALIDATION_IGNORE and \
            (media or "application/json").split(";")[0].strip().lower().endswith("json"):
        decoding.duplicate_fields = validation.find_duplicate_fields(data)
    audit = auditing.audit_of(request)
    if audit is not None:
        audit.request_object(body)
    return body


async def _respond(request: web.Request, result: Response, rep: Representation) -> web.StreamResponse:
    body: Body
    if isinstance(result.body, EncodedList):
        # A LIST from the watch cache goes out as its items' bytes, never joined into one object.
        body = result.body.parts() if rep.media == JSON_TYPE else encode(result.body.as_object(), rep.media)
    else:
        body = encode(result.body, rep.media)
    return await respond(request, result.status, body, {"Content-Type": rep.media}, result.warnings)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=encode(body), content_type="application/json")


def _document(request: web.Request, body: bytes, etag: str, content_type: str = "application/json") -> web.Response:
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(body=body, headers={"Content-Type": content_type, "ETag": etag})


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        # Optional: health endpoints are public; everything else needs a verified certificate.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
