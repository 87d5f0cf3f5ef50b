"""Pods by the node they are bound to, from the shared pod informer's ``spec.nodeName`` index.

Both the node lifecycle controller (MarkPodsNotReady) and the taint eviction controller need the
pods of one node, as upstream's controllers read them through an indexer. Scanning every pod for
each node instead costs nodes x pods: at 50,000 pods, 400 NotReady nodes are 20 million pod
checks in one monitor pass (and in the taint handlers), seconds of a controller manager that does
not yield meanwhile, so its Lease informer falls behind and more nodes look silent.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kubeplane.client import Informer
from kubeplane.client.indexer import NODE_NAME_INDEX, index_by_node_name

JSON = dict[str, Any]


def index_pods_by_node(pods: Informer) -> None:
    """Add the index to the (shared) pod informer unless another controller has."""
    with contextlib.suppress(ValueError):  # already there
        pods.add_indexers({NODE_NAME_INDEX: index_by_node_name})


def pods_on(pods: Informer, node_name: str) -> list[JSON]:
    return pods.by_index(NODE_NAME_INDEX, node_name)
