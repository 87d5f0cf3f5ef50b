"""WATCH: a chunked stream of JSON watch events, one per line, until timeout or disconnect."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from kubeplane.apiserver.endpoints.handlers import ResourceHandler, partial_metadata
from kubeplane.apiserver.endpoints.options import ListQuery
from kubeplane.apiserver.negotiation import AS_PARTIAL, AS_PARTIAL_LIST, AS_TABLE, Representation
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.machinery import errors, fields, printers
from kubeplane.storage import interface as st

log = logging.getLogger(__name__)
JSON = dict[str, Any]

# Upstream picks a watch's lifetime at random in [minRequestTimeout, 2*minRequestTimeout) so that
# clients do not reconnect in lockstep.
MIN_REQUEST_TIMEOUT = 1800


def _event_object(handler: ResourceHandler, event: st.WatchEvent, rep: Representation,
                  query: Mapping[str, str], first: bool) -> Any:
    info = handler.info
    obj = event.object
    if event.type == st.BOOKMARK:
        return {"kind": info.kind, "apiVersion": info.group_version, "metadata": obj.get("metadata", {})}
    if rep.as_ == AS_TABLE:
        table = printers.table(info.group, info.resource, [obj],
                               include_object=query.get("includeObject", "Metadata"))
        table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        if not first:
            table["columnDefinitions"] = []
        return table
    if rep.as_ in (AS_PARTIAL, AS_PARTIAL_LIST):
        return partial_metadata(obj, rep.version)
    if "kind" not in obj:
        obj = {"kind": info.kind, "apiVersion": info.group_version, **obj}
    return obj


def _field_selector_for(name: str, selector: str) -> str:
    """A legacy ``/watch/.../<name>`` path watches that object: its name joins the field selector,
    which may name it too but no other (upstream's ListResource)."""
    if not name:
        return selector
    if not selector:
        return f"metadata.name={name}"
    for term in selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if key.strip() == "metadata.name" and op and not key.endswith("!"):
            if value.strip() != name:
                raise errors.bad_request("fieldSelector metadata.name doesn't match requested name")
            return selector
    return f"{selector},metadata.name={name}"


async def serve_watch(request: web.Request, handler: ResourceHandler, ctx: RequestContext,
                      query: Mapping[str, str], rep: Representation, name: str = "") -> web.StreamResponse:
    q = ListQuery.parse(query, watch=True)
    predicate = fields.compile_predicate(handler.info.group, handler.info.resource, q.label_selector,
                                         _field_selector_for(name, q.field_selector))
    opts = st.WatchOptions(resource_version=q.resource_version, predicate=predicate,
                           allow_bookmarks=q.allow_bookmarks, send_initial_events=q.send_initial_events)
    watcher: st.Watcher | None = None
    failure: JSON | None = None
    try:
        watcher = await handler.store.watch(ctx, opts)
    except errors.StatusError as err:
        # Once the request is valid, upstream's cacher reports a resourceVersion it cannot serve
        # (too old: 410; not reached by a watch-list: 504) as an ERROR event on an open stream.
        if err.code not in (410, 504):
            raise
        failure = err.to_status()
    # timeoutSeconds=0 means no timeout of the client's own: the server's randomized one (upstream).
    timeout = q.timeout_seconds if q.timeout_seconds else random.uniform(MIN_REQUEST_TIMEOUT, 2 * MIN_REQUEST_TIMEOUT)
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if watcher is None:
        await response.write(orjson.dumps({"type": st.ERROR, "object": failure}) + b"\n")
        await response.write_eof()
        return response
    first = True
    try:
        async with asyncio.timeout(timeout):
            async for event in watcher:
                try:
                    obj = _event_object(handler, event, rep, query, first)
                    line = orjson.dumps({"type": event.type, "object": obj}) + b"\n"
                except Exception:
                    # Headers are sent: the only honest way left to fail is an ERROR event.
                    log.exception("cannot encode a watch event")
                    status = errors.internal("cannot encode a watch event; see the server log").to_status()
                    await response.write(orjson.dumps({"type": st.ERROR, "object": status}) + b"\n")
                    break
                first = False
                await response.write(line)
    except TimeoutError:
        pass
    except (ConnectionResetError, ConnectionError):
        log.debug("watch client went away")
    finally:
        await watcher.stop()
    try:
        await response.write_eof()
    except (ConnectionResetError, ConnectionError, RuntimeError):
        pass
    return response
