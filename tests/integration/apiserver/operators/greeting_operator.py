"""A small kopf operator, run unchanged against kubeplane by test_operator_kopf.py.

It manages ``Greeting`` objects (the group comes from the environment, so each test run has its
own CRD): on create it writes a ConfigMap owned by the Greeting, posts an Event about it and
records it in the Greeting's status; a change of ``spec.message`` rewrites the ConfigMap; on
delete (behind the finalizer kopf adds) it leaves a ``<name>-farewell`` ConfigMap, so the test can
see the handler ran before the object went away. The ConfigMaps are written with the official
client, as most kopf operators do.
"""

from __future__ import annotations

import logging
import os
from typing import Any, cast

import kopf
import kubernetes

GROUP = os.environ["GREETING_GROUP"]
VERSION = "v1"
PLURAL = "greetings"


def _core() -> kubernetes.client.CoreV1Api:
    # KUBECONFIG points at the test API server; kopf found its credentials the same way.
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config())


def _create_configmap(namespace: str | None, configmap: dict[str, Any]) -> None:
    assert namespace is not None  # Greetings are namespaced
    # The client sends a plain dict as it is; its stubs only know the model classes.
    _core().create_namespaced_config_map(namespace, cast(Any, configmap))


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Short server-side watch timeouts make kopf re-list and re-watch during the test, which
    # exercises resourceVersion resumption too; bounded client timeouts keep a hang visible.
    settings.watching.server_timeout = 10
    settings.watching.client_timeout = 20
    settings.networking.request_timeout = 15
    settings.posting.level = logging.INFO


@kopf.on.create(GROUP, VERSION, PLURAL)
def create_configmap(body: kopf.Body, spec: kopf.Spec, name: str, namespace: str | None,
                     patch: kopf.Patch, **_: Any) -> dict[str, str]:
    configmap: dict[str, Any] = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{name}-greeting"},
        "data": {"message": spec["message"]},
    }
    kopf.adopt(configmap, owner=body)  # ownerReference (controller) + the owner's namespace
    _create_configmap(namespace, configmap)
    kopf.info(body, reason="ConfigMapCreated", message=f"created ConfigMap {configmap['metadata']['name']}")
    patch.status["phase"] = "Ready"
    # What a handler returns, kopf stores under status.<handler id>.
    return {"configMap": configmap["metadata"]["name"]}


@kopf.on.field(GROUP, VERSION, PLURAL, field="spec.message")
def message_changed(old: Any, new: Any, name: str, namespace: str | None, patch: kopf.Patch, **_: Any) -> None:
    if old is None:  # the create handler wrote the first message
        return
    assert namespace is not None
    _core().patch_namespaced_config_map(f"{name}-greeting", namespace, {"data": {"message": new}})
    patch.status["observedMessage"] = new


@kopf.on.delete(GROUP, VERSION, PLURAL)
def say_farewell(name: str, namespace: str | None, spec: kopf.Spec, **_: Any) -> None:
    farewell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-farewell"},
                "data": {"lastMessage": spec["message"]}}
    _create_configmap(namespace, farewell)
