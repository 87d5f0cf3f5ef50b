"""An operator written with kopf (PyPI) runs unchanged against a kubeplane API server.

The operator (operators/greeting_operator.py) is a real `python -m kopf run` subprocess with a
kubeconfig for the test server. Everything it does is checked through the official client: the
ConfigMap it creates and owns, the status it patches through the status subresource, the Events it
posts, its reaction to a spec change, and its delete handler behind the finalizer it adds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

OPERATOR = Path(__file__).with_name("operators") / "greeting_operator.py"
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
_WAIT = 30.0


def _greeting_crd(group: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "required": ["message"],
                     "properties": {"message": {"type": "string", "minLength": 1}}},
            # kopf keeps its handler results and progress in status: let it store what it likes.
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"greetings.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}}}],
        },
    }


def _wait_for(check: Callable[[], Any], what: str, process: subprocess.Popen[bytes], log: Path,
              timeout: float = _WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process.poll() is not None:
            raise AssertionError(f"operator exited ({process.returncode}) waiting for {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g}s; operator log:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def greeting_group(apiserver: Any) -> Iterator[str]:
    group = f"g{uuid.uuid4().hex[:8]}.kopf.example.com"
    body = _greeting_crd(group)
    apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    apiserver.kubectl("wait", "--for=condition=Established", "--timeout=30s", f"crd/{body['metadata']['name']}")
    yield group
    apiserver.kubectl("delete", "crd", body["metadata"]["name"], "--wait=false", check=False)


@pytest.fixture
def operator(apiserver: Any, namespace: str, greeting_group: str,
             tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / "kopf.log"
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig), "GREETING_GROUP": greeting_group}
    argv = [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", namespace, "--verbose", str(OPERATOR)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        yield process, log
    finally:
        # Stop this exact child: SIGTERM lets kopf close its watches; SIGKILL if it lingers.
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def clients(apiserver: Any) -> Iterator[tuple[Any, Any]]:
    import kubernetes

    api_client = kubernetes.config.new_client_from_config(str(apiserver.kubeconfig))
    yield kubernetes.client.CoreV1Api(api_client), kubernetes.client.CustomObjectsApi(api_client)
    api_client.close()


def test_kopf_operator_creates_owns_updates_and_finalizes(
        apiserver: Any, namespace: str, greeting_group: str, operator: tuple[subprocess.Popen[bytes], Path],
        clients: tuple[Any, Any]) -> None:
    from kubernetes.client.rest import ApiException

    process, log = operator
    core, custom = clients
    group, name = greeting_group, "hello"

    def greeting() -> dict[str, Any]:
        found: dict[str, Any] = custom.get_namespaced_custom_object(group, "v1", namespace, "greetings", name)
        return found

    def configmap(cm_name: str) -> Any:
        try:
            return core.read_namespaced_config_map(cm_name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    custom.create_namespaced_custom_object(group, "v1", namespace, "greetings", {
        "apiVersion": f"{group}/v1", "kind": "Greeting", "metadata": {"name": name},
        "spec": {"message": "hello, world"}})

    # create: the ConfigMap exists, owned (as controller) by the Greeting.
    owned = _wait_for(lambda: configmap(f"{name}-greeting"), "the owned ConfigMap", process, log)
    uid = greeting()["metadata"]["uid"]
    assert owned.data == {"message": "hello, world"}
    [owner] = owned.metadata.owner_references
    assert (owner.api_version, owner.kind, owner.name, owner.uid, owner.controller) == \
        (f"{group}/v1", "Greeting", name, uid, True)

    # status: written through the status subresource (spec stays as the user wrote it).
    status = _wait_for(lambda: greeting().get("status", {}).get("create_configmap"), "the handler's status",
                       process, log)
    assert status == {"configMap": f"{name}-greeting"}
    current = greeting()
    assert current["status"]["phase"] == "Ready"
    assert KOPF_FINALIZER in current["metadata"]["finalizers"]
    assert current["spec"] == {"message": "hello, world"}

    # kopf.info() posts a core/v1 Event about the object (in the background).
    def handler_events() -> list[Any]:
        events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.uid={uid}").items
        return [event for event in events if event.reason == "ConfigMapCreated"]

    [event] = _wait_for(handler_events, "the operator's Event", process, log)
    assert (event.type, event.message, event.involved_object.kind, event.involved_object.name) == \
        ("Normal", f"created ConfigMap {name}-greeting", "Greeting", name)

    # update: a spec change reaches the field handler, which rewrites the ConfigMap and status.
    custom.patch_namespaced_custom_object(group, "v1", namespace, "greetings", name,
                                          {"spec": {"message": "hello again"}})
    _wait_for(lambda: configmap(f"{name}-greeting").data == {"message": "hello again"}, "the updated ConfigMap",
              process, log)
    _wait_for(lambda: greeting().get("status", {}).get("observedMessage") == "hello again",
              "the updated status", process, log)

    # delete: the finalizer holds the object until kopf's delete handler has run, then it goes.
    custom.delete_namespaced_custom_object(group, "v1", namespace, "greetings", name)
    farewell = _wait_for(lambda: configmap(f"{name}-farewell"), "the delete handler's ConfigMap", process, log)
    assert farewell.data == {"lastMessage": "hello again"}

    def gone() -> bool:
        try:
            greeting()
        except ApiException as err:
            return bool(err.status == 404)
        return False

    _wait_for(gone, "the Greeting to be deleted once kopf removed its finalizer", process, log)
    assert process.poll() is None, _tail(log)
    errors = [line for line in log.read_text(errors="replace").splitlines()
              if "[ERROR" in line or "Traceback" in line]
    assert not errors, "\n".join(errors)
