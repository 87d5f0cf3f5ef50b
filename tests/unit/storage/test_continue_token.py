"""Continue tokens as upstream encodes them: round trip, revision -1 (continue at the latest
revision, what a 410 for a compacted token offers), and the refusals with upstream's messages."""

from __future__ import annotations

import base64

import orjson
import pytest

from kubeplane.storage.etcd3.continue_token import LATEST, decode_continue, encode_continue
from kubeplane.storage.interface import InvalidContinueError

PREFIX = "/registry/configmaps/"


def token(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def test_round_trip_and_upstream_layout() -> None:
    encoded = encode_continue(PREFIX + "ns/b\x00", PREFIX, 42)
    assert orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))) == {
        "v": "meta.k8s.io/v1", "rv": 42, "start": "ns/b\x00"}
    assert decode_continue(encoded, PREFIX) == (PREFIX + "ns/b\x00", 42)


def test_latest_revision_token_continues_at_the_latest() -> None:
    assert decode_continue(encode_continue(PREFIX + "ns/b", PREFIX, LATEST), PREFIX) == (PREFIX + "ns/b", 0)


@pytest.mark.parametrize(("payload", "message"), [
    ({"v": "meta.k8s.io/v1", "rv": 0, "start": "ns/b"},
     "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    ({"v": "meta.k8s.io/v1", "rv": 5, "start": ""},
     "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"),
    ({"v": "v0", "rv": 5, "start": "ns/b"},
     "continue key is not valid: server does not recognize this encoded version v0"),
    ({"v": "meta.k8s.io/v1", "rv": 5, "start": "../secrets/x"}, "continue key is not valid: ../secrets/x"),
])
def test_bad_tokens_are_refused(payload: object, message: str) -> None:
    with pytest.raises(InvalidContinueError) as refused:
        decode_continue(token(payload), PREFIX)
    assert str(refused.value) == message
