"""An object over etcd's 1.5 MiB request limit whose type has no size validation of
its own (the 2 MiB ConfigMap in test_apiserver_bad_input.py may be refused by ConfigMap's 1 MiB
data rule before storage is reached)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_object_over_one_and_a_half_mebibytes_is_refused_and_not_stored(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/podtemplates"
    argument = "x" * (1024 * 1024 + 600 * 1024)  # ~1.6 MiB: under the 3 MiB body limit, over etcd's 1.5 MiB
    body = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "huge"},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.35", "args": [argument]}]}}}
    status, answer, _ = apiserver.request("POST", collection, body)
    assert 400 <= status < 500, (status, str(answer)[:300])
    assert answer["kind"] == "Status" and answer["code"] == status
    assert "Traceback" not in answer["message"]
    assert apiserver.request("GET", f"{collection}/huge")[0] == 404
    assert apiserver.request("GET", "/readyz")[0] == 200
