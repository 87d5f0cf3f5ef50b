"""The CRI v1 messages: the one place that says where they come from.

They are the generated classes of PyPI ``container-runtime-interface-api`` (module
``cri_api.v1.api_pb2``, with type stubs). That package declares ``protobuf~=6.31`` while the venv
pins protobuf 7, so it is installed with ``--no-deps``: protobuf's runtime accepts gencode of an
older version (only gencode newer than the runtime is refused), and the module imports cleanly.
We never hand-write the proto; the RPC paths and response types are read from its descriptor.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as pb
from google.protobuf.descriptor import MethodDescriptor

__all__ = ["method_descriptor", "pb"]


def method_descriptor(service: str, method: str) -> MethodDescriptor:
    """The descriptor of ``service.method`` in CRI v1 (KeyError if the API has no such RPC)."""
    return pb.DESCRIPTOR.services_by_name[service].methods_by_name[method]
