"""Webhook conversion of custom resources against an in-process HTTPS conversion webhook: the
ConversionReview sent, the checks applied to the answer (upstream's messages), metadata restored
except labels and annotations, service references, and the converting storage over the memory
backend (writes stored in the storage version, one review per LIST, watch events converted)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.webhook.client import WebhookClient
from kubeplane.apiserver.apiextensions.conversion_storage import WebhookConversion, WebhookConvertingStorage
from kubeplane.apiserver.apiextensions.conversion_validation import validate_webhook_conversion
from kubeplane.apiserver.apiextensions.conversion_webhook import (
    ConversionFailed,
    WebhookConverter,
    review_version,
)
from kubeplane.apiserver.apiextensions.serving import webhook_conversion
from kubeplane.component import pki
from kubeplane.machinery import errors
from kubeplane.storage import interface as st
from kubeplane.storage.memory import MemoryStorage

JSON = dict[str, Any]
REVIEWS = web.AppKey("reviews", list[JSON])
V1, V2 = "stable.example.com/v1", "stable.example.com/v2"


def convert_object(obj: JSON, desired: str) -> JSON:
    """The test's conversion: v1 ``spec.cronSpec`` is v2 ``spec.schedule``."""
    out = {**obj, "apiVersion": desired, "spec": dict(obj.get("spec") or {})}
    spec = out["spec"]
    if desired == V2 and "cronSpec" in spec:
        spec["schedule"] = spec.pop("cronSpec")
    if desired == V1 and "schedule" in spec:
        spec["cronSpec"] = spec.pop("schedule")
    return out


@dataclass
class Webhook:
    url: str
    ca_bundle: str
    reviews: list[JSON] = field(default_factory=list)


async def _review(request: web.Request) -> web.Response:
    review = await request.json()
    request.app[REVIEWS].append(review)
    req = review["request"]
    objects = [convert_object(o, req["desiredAPIVersion"]) for o in req["objects"]]
    response: JSON = {"uid": req["uid"], "convertedObjects": objects, "result": {"status": "Success"}}
    mode = request.match_info["mode"]
    if mode == "fail":
        response["result"] = {"status": "Failure", "message": "cannot convert today"}
    elif mode == "count":
        response["convertedObjects"] = objects[1:]
    elif mode == "version":
        response["convertedObjects"] = [{**o, "apiVersion": "stable.example.com/v9"} for o in objects]
    elif mode == "rename":
        response["convertedObjects"] = [{**o, "metadata": {**o["metadata"], "name": "other"}} for o in objects]
    elif mode == "uid":
        response["uid"] = "not-the-request"
    elif mode == "meta":
        for o in objects:
            o["metadata"] = {**o["metadata"], "labels": {"converted": "yes"}, "resourceVersion": "999",
                             "finalizers": ["example.com/sneaky"]}
    elif mode == "badlabel":
        for o in objects:
            o["metadata"] = {**o["metadata"], "labels": {"bad key": "x"}}
    return web.json_response({"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": response})


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[Webhook]:
    ca = pki.create_ca("conversion-test-ca")
    leaf = pki.issue_serving_cert(ca, "conv", ["conv.webhooks.svc"], ["127.0.0.1"])
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    pki.write_certified_key(leaf, cert, key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    app = web.Application()
    app[REVIEWS] = []
    app.router.add_post("/{mode}", _review)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Webhook(f"https://127.0.0.1:{port}", base64.b64encode(pki.cert_pem(ca.cert)).decode(), app[REVIEWS])
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    http = WebhookClient(ClusterObjects({}))
    yield http
    await http.close()


def crontab(name: str, version: str = V1, **spec: Any) -> JSON:
    default = {"cronSpec": "* * * * */5"} if version == V1 else {"schedule": "* * * * */5"}
    return {"apiVersion": version, "kind": "CronTab",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "5"},
            "spec": spec or default}


def converter(client: WebhookClient, hook: Webhook, mode: str = "convert", versions: tuple[str, ...] = ("v1",),
              ca_bundle: str | None = None) -> WebhookConverter:
    return WebhookConverter(client, {"clientConfig": {"url": f"{hook.url}/{mode}",
                                                      "caBundle": hook.ca_bundle if ca_bundle is None else ca_bundle},
                                     "conversionReviewVersions": list(versions)})


async def test_converts_and_sends_one_review(client: WebhookClient, webhook: Webhook) -> None:
    objects = [crontab("a"), crontab("b", V2, schedule="0 * * * *"), crontab("c")]
    converted = await converter(client, webhook).convert(objects, V2)
    assert [o["apiVersion"] for o in converted] == [V2, V2, V2]
    assert converted[0]["spec"] == {"schedule": "* * * * */5"}
    assert converted[1] is objects[1]  # already in v2: not sent
    assert len(webhook.reviews) == 1
    review = webhook.reviews[0]
    assert review["apiVersion"] == "apiextensions.k8s.io/v1" and review["kind"] == "ConversionReview"
    assert review["request"]["desiredAPIVersion"] == V2
    assert [o["metadata"]["name"] for o in review["request"]["objects"]] == ["a", "c"]


async def test_nothing_to_convert_makes_no_call(client: WebhookClient, webhook: Webhook) -> None:
    assert await converter(client, webhook).convert([crontab("a", V2)], V2) == [crontab("a", V2)]
    assert webhook.reviews == []


async def test_review_version_is_the_first_supported(client: WebhookClient, webhook: Webhook) -> None:
    assert review_version(["v2", "v1beta1", "v1"]) == "v1beta1"
    await converter(client, webhook, versions=("v3", "v1beta1")).convert([crontab("a")], V2)
    assert webhook.reviews[0]["apiVersion"] == "apiextensions.k8s.io/v1beta1"
    with pytest.raises(ConversionFailed, match="no supported conversion review versions"):
        await converter(client, webhook, versions=("v3",)).convert([crontab("a")], V2)


async def test_metadata_other_than_labels_and_annotations_is_restored(client: WebhookClient,
                                                                     webhook: Webhook) -> None:
    original = crontab("a")
    original["metadata"]["annotations"] = {"keep": "me"}
    [converted] = await converter(client, webhook, "meta").convert([original], V2)
    assert converted["metadata"]["labels"] == {"converted": "yes"}
    assert converted["metadata"]["resourceVersion"] == "5"
    assert "finalizers" not in converted["metadata"]
    assert converted["metadata"]["annotations"] == {"keep": "me"}


@pytest.mark.parametrize(("mode", "message"), [
    ("fail", "conversion webhook for stable.example.com/v1, Kind=CronTab failed: cannot convert today"),
    ("count", "conversion webhook for stable.example.com/v1, Kind=CronTab returned 1 objects, expected 2"),
    ("version", "conversion webhook for stable.example.com/v1, Kind=CronTab returned invalid converted object at "
                "index 0: invalid groupVersion (expected stable.example.com/v2, received stable.example.com/v9)"),
    ("rename", "conversion webhook for stable.example.com/v1, Kind=CronTab returned invalid converted object at "
               "index 0: must have the same name: a != other"),
    ("uid", "conversion webhook for stable.example.com/v1, Kind=CronTab failed: expected response.uid="),
    ("badlabel", "conversion webhook for stable.example.com/v1, Kind=CronTab returned invalid metadata in object "
                 "at index 0: metadata.labels: Invalid value: \"bad key\""),
])
async def test_bad_answers_are_refused(client: WebhookClient, webhook: Webhook, mode: str, message: str) -> None:
    with pytest.raises(ConversionFailed) as raised:
        await converter(client, webhook, mode).convert([crontab("a"), crontab("b")], V2)
    assert str(raised.value).startswith(message)
    status = raised.value.to_status_error()
    assert (status.code, status.reason) == (500, "InternalError")
    assert status.message == f"Internal error occurred: {raised.value}"


async def test_untrusted_certificate_fails(client: WebhookClient, webhook: Webhook) -> None:
    other_ca = base64.b64encode(pki.cert_pem(pki.create_ca("someone-else").cert)).decode()
    with pytest.raises(ConversionFailed, match=r"failed: Post \"https://127.0.0.1:\d+/convert\": .*certificate"):
        await converter(client, webhook, ca_bundle=other_ca).convert([crontab("a")], V2)


class _ServiceObjects:
    """The two objects a service reference is resolved through."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def get(self, group: str, resource: str, namespace: str, name: str) -> JSON | None:
        if (namespace, name) != ("webhooks", "conv"):
            return None
        if resource == "services":
            return {"spec": {"clusterIP": "198.19.0.40", "ports": [{"name": "https", "port": 443}]}}
        return {"subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": self.port}]}]}


async def test_service_reference(webhook: Webhook) -> None:
    port = int(webhook.url.rsplit(":", 1)[1])
    http = WebhookClient(cast(ClusterObjects, _ServiceObjects(port)))
    try:
        hook = WebhookConverter(http, {"conversionReviewVersions": ["v1"], "clientConfig": {
            "service": {"namespace": "webhooks", "name": "conv", "path": "/convert"}, "caBundle": webhook.ca_bundle}})
        [converted] = await hook.convert([crontab("a")], V2)
        assert converted["spec"] == {"schedule": "* * * * */5"}
        missing = WebhookConverter(http, {"conversionReviewVersions": ["v1"], "clientConfig": {
            "service": {"namespace": "webhooks", "name": "gone"}, "caBundle": webhook.ca_bundle}})
        with pytest.raises(ConversionFailed, match='service "webhooks/gone" not found'):
            await missing.convert([crontab("a")], V2)
    finally:
        await http.close()


def test_webhook_conversion_reads_the_crd() -> None:
    assert webhook_conversion({"spec": {"conversion": {"strategy": "None"}}}) is None
    assert webhook_conversion({"spec": {}}) is None
    hook = {"clientConfig": {"url": "https://x"}, "conversionReviewVersions": ["v1"]}
    assert webhook_conversion({"spec": {"conversion": {"strategy": "Webhook", "webhook": hook}}}) == hook


# -- the converting storage ------------------------------------------------------------------------
@pytest.fixture
async def memory() -> AsyncIterator[MemoryStorage]:
    storage = MemoryStorage()
    yield storage
    await storage.close()


def served_v2(client: WebhookClient, hook: Webhook, inner: st.Storage, mode: str = "convert") -> WebhookConvertingStorage:
    return WebhookConvertingStorage(inner, WebhookConversion(converter(client, hook, mode), V2, V1))


async def test_storage_writes_the_storage_version(client: WebhookClient, webhook: Webhook,
                                                  memory: MemoryStorage) -> None:
    storage = served_v2(client, webhook, memory)
    created = await storage.create("/crontabs/default/a", crontab("a", V2, schedule="1 * * * *"))
    assert created["apiVersion"] == V2 and created["spec"] == {"schedule": "1 * * * *"}
    stored = await memory.get("/crontabs/default/a")
    assert stored is not None and stored["apiVersion"] == V1 and stored["spec"] == {"cronSpec": "1 * * * *"}

    async def change(current: JSON | None) -> JSON:
        assert current is not None and current["apiVersion"] == V2
        return {**current, "spec": {"schedule": "2 * * * *"}}

    updated = await storage.guaranteed_update("/crontabs/default/a", change)
    assert updated["spec"] == {"schedule": "2 * * * *"}
    stored = await memory.get("/crontabs/default/a")
    assert stored is not None and stored["spec"] == {"cronSpec": "2 * * * *"}


async def test_storage_lists_in_one_review(client: WebhookClient, webhook: Webhook, memory: MemoryStorage) -> None:
    for name in ("a", "b", "c"):
        await memory.create(f"/crontabs/default/{name}", crontab(name))
    storage = served_v2(client, webhook, memory)
    listed = await storage.get_list("/crontabs/", st.ListOptions(resource_version=""))
    assert [o["spec"] for o in listed.items] == [{"schedule": "* * * * */5"}] * 3
    assert len(webhook.reviews) == 1 and len(webhook.reviews[0]["request"]["objects"]) == 3


async def test_storage_watch_converts_each_event(client: WebhookClient, webhook: Webhook,
                                                 memory: MemoryStorage) -> None:
    storage = served_v2(client, webhook, memory)
    watcher = await storage.watch("/crontabs/", st.WatchOptions(resource_version=str(await memory.current_revision())))
    await memory.create("/crontabs/default/w", crontab("w"))
    events = aiter(watcher)
    event = await asyncio.wait_for(anext(events), 10)
    assert event.type == st.ADDED and event.object["apiVersion"] == V2
    assert event.object["spec"] == {"schedule": "* * * * */5"}
    await watcher.stop()


async def test_failed_conversion_stores_nothing(client: WebhookClient, webhook: Webhook,
                                                memory: MemoryStorage) -> None:
    storage = served_v2(client, webhook, memory, "fail")
    with pytest.raises(errors.StatusError) as raised:
        await storage.create("/crontabs/default/x", crontab("x", V2, schedule="1 * * * *"))
    assert raised.value.code == 500
    assert raised.value.message == ("Internal error occurred: conversion webhook for stable.example.com/v2, "
                                    "Kind=CronTab failed: cannot convert today")
    assert await memory.get("/crontabs/default/x", ignore_not_found=True) is None
    await memory.create("/crontabs/default/y", crontab("y"))
    watcher = await storage.watch("/crontabs/", st.WatchOptions(resource_version="0"))
    event = await asyncio.wait_for(anext(aiter(watcher)), 10)
    assert event.type == st.ERROR and event.object["code"] == 500
    await watcher.stop()


# -- validation of the conversion stanza ------------------------------------------------------------
def _messages(webhook: JSON | None) -> list[str]:
    conversion: JSON = {"strategy": "Webhook", **({"webhook": webhook} if webhook is not None else {})}
    return [f"{c.field}: {c.message}" for c in validate_webhook_conversion({"conversion": conversion})]


def test_conversion_validation_accepts_a_good_webhook() -> None:
    assert _messages({"clientConfig": {"url": "https://conv.example.com/convert"},
                      "conversionReviewVersions": ["v1", "v1beta1"]}) == []
    assert _messages({"clientConfig": {"service": {"namespace": "ns", "name": "conv", "path": "/convert",
                                                   "port": 8443}},
                      "conversionReviewVersions": ["v2", "v1"]}) == []
    assert validate_webhook_conversion({"conversion": {"strategy": "None"}}) == []


def test_conversion_validation_messages_are_upstreams() -> None:
    assert _messages(None) == [
        "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
        "spec.conversion.conversionReviewVersions: Required value"]
    assert _messages({"clientConfig": {"url": "http://user@x/a?b=1#f"}, "conversionReviewVersions": ["v3", "v3"]}) == [
        "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; "
        "desired format: https://host[/path]",
        'spec.conversion.webhookClientConfig.url: Invalid value: "user": user information is not permitted in the URL',
        'spec.conversion.webhookClientConfig.url: Invalid value: "f": fragments are not permitted in the URL',
        'spec.conversion.webhookClientConfig.url: Invalid value: "b=1": query parameters are not permitted in the URL',
        'spec.conversion.conversionReviewVersions[1]: Invalid value: "v3": duplicate version',
        "spec.conversion.conversionReviewVersions: Invalid value: [v3 v3]: must include at least one of v1, v1beta1"]
    assert _messages({"clientConfig": {"url": "https://x", "service": {"name": "a", "namespace": "b"}},
                      "conversionReviewVersions": ["v1"]}) == [
        "spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required"]
    assert _messages({"clientConfig": {"service": {"port": 0, "path": "/a//b"}}, "conversionReviewVersions": ["v1"]}) == [
        "spec.conversion.webhookClientConfig.service.name: Required value: service name is required",
        "spec.conversion.webhookClientConfig.service.namespace: Required value: service namespace is required",
        "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: "
        "must be between 1 and 65535, inclusive",
        'spec.conversion.webhookClientConfig.service.path: Invalid value: "/a//b": segment[1] may not be empty']
