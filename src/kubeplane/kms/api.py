"""The KMS v2 wire API (upstream ``k8s.io/kms/apis/v2/api.proto``), built without code generation.

The messages come from a ``FileDescriptorProto`` written here in Python and turned into classes by
protobuf's message factory, in a private descriptor pool (other code may load unrelated ``v2``
packages into the default pool). The same helper builds the API server's ``EncryptedObject``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

SERVICE = "v2.KeyManagementService"
STATUS_METHOD = f"/{SERVICE}/Status"
ENCRYPT_METHOD = f"/{SERVICE}/Encrypt"
DECRYPT_METHOD = f"/{SERVICE}/Decrypt"
API_VERSION = "v2"
HEALTHZ_OK = "ok"

_F = descriptor_pb2.FieldDescriptorProto
STRING, BYTES, ENUM, MESSAGE = _F.TYPE_STRING, _F.TYPE_BYTES, _F.TYPE_ENUM, _F.TYPE_MESSAGE
# A proto3 ``map<string, bytes>``: a repeated nested "<Name>Entry" message marked map_entry.
STRING_TO_BYTES_MAP = "map<string,bytes>"


@dataclass(frozen=True)
class Field:
    name: str
    number: int
    kind: int | str  # a FieldDescriptorProto type, STRING_TO_BYTES_MAP, or an enum's name
    json_name: str = ""


@dataclass(frozen=True)
class Enum:
    name: str
    values: tuple[tuple[str, int], ...]


def build_messages(file_name: str, package: str, messages: dict[str, Sequence[Field]],
                   enums: Sequence[Enum] = ()) -> dict[str, type[Message]]:
    """Message classes for one proto3 file, by message name."""
    proto = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto3")
    for enum in enums:
        proto.enum_type.add(name=enum.name, value=[descriptor_pb2.EnumValueDescriptorProto(name=n, number=v)
                                                   for n, v in enum.values])
    enum_names = {e.name for e in enums}
    for name, fields in messages.items():
        message = proto.message_type.add(name=name)
        for f in fields:
            _add_field(message, f, f".{package}.{name}", enum_names, package)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in messages}


def _add_field(message: descriptor_pb2.DescriptorProto, f: Field, full_name: str, enum_names: set[str],
               package: str) -> None:
    json_name = f.json_name or f.name
    if f.kind == STRING_TO_BYTES_MAP:
        entry = "".join(part.capitalize() for part in f.name.split("_")) + "Entry"
        nested = message.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=STRING, label=_F.LABEL_OPTIONAL, json_name="key")
        nested.field.add(name="value", number=2, type=BYTES, label=_F.LABEL_OPTIONAL, json_name="value")
        message.field.add(name=f.name, number=f.number, type=MESSAGE, label=_F.LABEL_REPEATED,
                          type_name=f"{full_name}.{entry}", json_name=json_name)
    elif isinstance(f.kind, str) and f.kind in enum_names:
        message.field.add(name=f.name, number=f.number, type=ENUM, label=_F.LABEL_OPTIONAL,
                          type_name=f".{package}.{f.kind}", json_name=json_name)
    else:
        assert isinstance(f.kind, int), f.kind
        message.field.add(name=f.name, number=f.number, type=f.kind, label=_F.LABEL_OPTIONAL,
                          json_name=json_name)


_MESSAGES = build_messages("kubeplane/kms/v2/api.proto", "v2", {
    "StatusRequest": [],
    "StatusResponse": [Field("version", 1, STRING), Field("healthz", 2, STRING), Field("key_id", 3, STRING)],
    "DecryptRequest": [Field("ciphertext", 1, BYTES), Field("uid", 2, STRING), Field("key_id", 3, STRING),
                       Field("annotations", 4, STRING_TO_BYTES_MAP)],
    "DecryptResponse": [Field("plaintext", 1, BYTES)],
    "EncryptRequest": [Field("plaintext", 1, BYTES), Field("uid", 2, STRING)],
    "EncryptResponse": [Field("ciphertext", 1, BYTES), Field("key_id", 2, STRING),
                        Field("annotations", 3, STRING_TO_BYTES_MAP)],
})
# Message classes are built at run time, so to type checkers they are plain ``Message`` types.
StatusRequest: Any = _MESSAGES["StatusRequest"]
StatusResponse: Any = _MESSAGES["StatusResponse"]
DecryptRequest: Any = _MESSAGES["DecryptRequest"]
DecryptResponse: Any = _MESSAGES["DecryptResponse"]
EncryptRequest: Any = _MESSAGES["EncryptRequest"]
EncryptResponse: Any = _MESSAGES["EncryptResponse"]

# (method, request class, response class) for the three RPCs.
METHODS: tuple[tuple[str, Any, Any], ...] = (
    ("Status", StatusRequest, StatusResponse),
    ("Decrypt", DecryptRequest, DecryptResponse),
    ("Encrypt", EncryptRequest, EncryptResponse),
)

Handler = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def service_handler(handlers: dict[str, Handler]) -> grpc.GenericRpcHandler:
    """A generic handler serving ``v2.KeyManagementService`` with one coroutine per method name."""
    methods = {name: grpc.unary_unary_rpc_method_handler(handlers[name], request_deserializer=request.FromString,
                                                         response_serializer=response.SerializeToString)
               for name, request, response in METHODS}
    return grpc.method_handlers_generic_handler(SERVICE, methods)
