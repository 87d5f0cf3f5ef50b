"""A CRD with two versions converted by a webhook, against a real API server and an HTTPS
conversion webhook run by the test: writes in either version are stored in the storage version,
reads (GET, LIST in one review, WATCH, PATCH, apply) answer in the requested version, and a
failing webhook gives upstream's 500 while nothing is stored."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import APIServerProcess

from kubeplane.component import pki

pytestmark = pytest.mark.integration
JSON = dict[str, Any]


def _convert(obj: JSON, desired: str) -> JSON:
    """v1 ``spec.cronSpec`` is v2 ``spec.schedule``."""
    out = {**obj, "apiVersion": desired, "spec": dict(obj.get("spec") or {})}
    spec = out["spec"]
    if desired.endswith("/v2") and "cronSpec" in spec:
        spec["schedule"] = spec.pop("cronSpec")
    if desired.endswith("/v1") and "schedule" in spec:
        spec["cronSpec"] = spec.pop("schedule")
    return out


class _Converter(http.server.BaseHTTPRequestHandler):
    """/convert converts; /fail answers a Failure result."""

    reviews: list[JSON] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).reviews.append(review)
        request = review["request"]
        response: JSON = {"uid": request["uid"], "result": {"status": "Success"},
                          "convertedObjects": [_convert(o, request["desiredAPIVersion"]) for o in request["objects"]]}
        if self.path == "/fail":
            response = {"uid": request["uid"], "result": {"status": "Failure", "message": "converter is broken"}}
        body = json.dumps({"apiVersion": review["apiVersion"], "kind": "ConversionReview",
                           "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(https URL base, base64 caBundle) of the conversion webhook on loopback."""
    directory = tmp_path_factory.mktemp("conversion-webhook")
    ca = pki.create_ca("conversion-webhook-ca")
    cert, key = Path(directory / "tls.crt"), Path(directory / "tls.key")
    pki.write_certified_key(pki.issue_serving_cert(ca, "converter", ["localhost"], ["127.0.0.1"]), cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Converter)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", base64.b64encode(pki.cert_pem(ca.cert)).decode()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _version(name: str, field: str, storage: bool) -> JSON:
    return {"name": name, "served": True, "storage": storage, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {field: {"type": "string"}}}}}}}


def _wait(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)
    return result


@pytest.fixture
def make_crd(apiserver: APIServerProcess, webhook: tuple[str, str]) -> Iterator[Callable[[str], str]]:
    """Creates a CronTab CRD converting through ``<webhook>/<path>``; returns its group."""
    created: list[str] = []

    def make(path: str) -> str:
        url, ca_bundle = webhook
        group = f"c{uuid.uuid4().hex[:8]}.example.com"
        name = f"crontabs.{group}"
        body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": name},
                "spec": {"group": group, "scope": "Namespaced",
                         "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
                         "versions": [_version("v1", "cronSpec", True), _version("v2", "schedule", False)],
                         "conversion": {"strategy": "Webhook", "webhook": {
                             "conversionReviewVersions": ["v1"],
                             "clientConfig": {"url": f"{url}/{path}", "caBundle": ca_bundle}}}}}
        status, answer, _ = apiserver.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
        assert status == 201, answer
        created.append(name)
        _wait(lambda: apiserver.request("GET", f"/apis/{group}/v2/crontabs")[0] == 200)
        return group

    yield make
    for name in created:
        apiserver.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false")


def _reviews_since(count: int) -> list[JSON]:
    return _Converter.reviews[count:]


def test_reads_and_writes_convert_through_the_webhook(apiserver: APIServerProcess, namespace: str,
                                                      make_crd: Callable[[str], str]) -> None:
    group = make_crd("convert")
    base = f"/apis/{group}/{{}}/namespaces/{namespace}/crontabs"
    status, created, _ = apiserver.request("POST", base.format("v2"), {
        "apiVersion": f"{group}/v2", "kind": "CronTab", "metadata": {"name": "a"}, "spec": {"schedule": "*/5 * * * *"}})
    assert status == 201, created
    assert created["apiVersion"] == f"{group}/v2" and created["spec"] == {"schedule": "*/5 * * * *"}
    # Read in the storage version: stored as v1, so no review is needed to answer it.
    before = len(_Converter.reviews)
    status, stored, _ = apiserver.request("GET", base.format("v1") + "/a")
    assert status == 200 and stored["spec"] == {"cronSpec": "*/5 * * * *"}
    assert _reviews_since(before) == []

    apiserver.request("POST", base.format("v1"), {"apiVersion": f"{group}/v1", "kind": "CronTab",
                                                  "metadata": {"name": "b"}, "spec": {"cronSpec": "0 * * * *"}})
    before = len(_Converter.reviews)
    status, listed, _ = apiserver.request("GET", base.format("v2"))
    assert status == 200, listed
    assert {o["metadata"]["name"]: o["spec"] for o in listed["items"]} == {
        "a": {"schedule": "*/5 * * * *"}, "b": {"schedule": "0 * * * *"}}
    assert listed["apiVersion"] == f"{group}/v2"
    # One review for the whole list, converting both objects.
    assert [len(r["request"]["objects"]) for r in _reviews_since(before)] == [2]

    # Merge patch through v2 changes the stored v1 object.
    status, patched, _ = apiserver.request("PATCH", base.format("v2") + "/b", {"spec": {"schedule": "1 * * * *"}},
                                           content_type="application/merge-patch+json")
    assert status == 200 and patched["spec"] == {"schedule": "1 * * * *"}, patched
    _, stored, _ = apiserver.request("GET", base.format("v1") + "/b")
    assert stored["spec"] == {"cronSpec": "1 * * * *"}

    # Server-side apply through v2.
    applied = yaml.safe_dump({"apiVersion": f"{group}/v2", "kind": "CronTab", "metadata": {"name": "c"},
                              "spec": {"schedule": "2 * * * *"}}).encode()
    status, answer, _ = apiserver.request("PATCH", base.format("v2") + "/c?fieldManager=test", applied,
                                          content_type="application/apply-patch+yaml")
    assert status == 201 and answer["spec"] == {"schedule": "2 * * * *"}, answer
    _, stored, _ = apiserver.request("GET", base.format("v1") + "/c")
    assert stored["spec"] == {"cronSpec": "2 * * * *"}

    # A watch in v2 sees a change made through v1, converted.
    apiserver.request("PATCH", base.format("v1") + "/a", {"spec": {"cronSpec": "3 * * * *"}},
                      content_type="application/merge-patch+json")
    status, stream, _ = apiserver.request(
        "GET", base.format("v2") + f"?watch=1&timeoutSeconds=1&resourceVersion={listed['metadata']['resourceVersion']}")
    assert status == 200
    events = [json.loads(line) for line in (stream if isinstance(stream, str) else json.dumps(stream)).splitlines()
              if line.strip()]
    last_a = [e for e in events if e["object"]["metadata"]["name"] == "a"][-1]
    assert last_a["type"] == "MODIFIED"
    assert last_a["object"]["apiVersion"] == f"{group}/v2" and last_a["object"]["spec"] == {"schedule": "3 * * * *"}


def test_failing_webhook_is_an_internal_error_and_stores_nothing(apiserver: APIServerProcess, namespace: str,
                                                                 make_crd: Callable[[str], str]) -> None:
    group = make_crd("fail")
    status, answer, _ = apiserver.request("POST", f"/apis/{group}/v2/namespaces/{namespace}/crontabs", {
        "apiVersion": f"{group}/v2", "kind": "CronTab", "metadata": {"name": "x"}, "spec": {"schedule": "* * * * *"}})
    assert status == 500, answer
    assert answer["reason"] == "InternalError"
    assert answer["message"] == (f"Internal error occurred: conversion webhook for {group}/v2, Kind=CronTab failed: "
                                 "converter is broken")
    status, listed, _ = apiserver.request("GET", f"/apis/{group}/v1/namespaces/{namespace}/crontabs")
    assert status == 200 and listed["items"] == []
    # Objects in the storage version are still written and read in it without the webhook.
    status, created, _ = apiserver.request("POST", f"/apis/{group}/v1/namespaces/{namespace}/crontabs", {
        "apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "y"}, "spec": {"cronSpec": "* * * * *"}})
    assert status == 201, created
    status, answer, _ = apiserver.request("GET", f"/apis/{group}/v2/namespaces/{namespace}/crontabs/y")
    assert status == 500 and "conversion webhook for" in answer["message"]
    # Deleting the CRD empties it through the storage version, so the broken webhook does not block it.
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.{group}"
    assert apiserver.request("DELETE", crd_path)[0] == 200
    _wait(lambda: apiserver.request("GET", crd_path)[0] == 404)
