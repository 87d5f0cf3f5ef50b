"""Our hand-written protobuf OpenAPI v2 document, decoded by the protobuf runtime against gnostic's
``openapi.v2`` messages, must land every value in the field gnostic (and so kubectl) reads it from.

The message table below was transcribed from gnostic's own definition, google/gnostic
``openapiv2/OpenAPIv2.proto`` (commit 96635ff3a800e184f8b2f7bf9b3b765d0fa071cd; the same file is
vendored by kube-openapi and kubectl). From it the test builds real protobuf descriptors (no protoc
needed), parses our bytes with the protobuf runtime, fails on any field the table does not know
(a wrong number or wire type shows up as an unknown field), and turns the messages back into
swagger JSON by field *name* to compare with what we encoded.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, unknown_fields
from google.protobuf.message import Message

from kubeplane.apiserver import openapi, openapi_proto
from kubeplane.catalog.catalog import DEFAULT_VERSION

JSON = dict[str, Any]

# "Message: field; field; ..." with each field "[repeated|oneof] type name = number". Messages we
# never write are declared empty, so anything written into them shows up as an unknown field.
GNOSTIC_OPENAPI_V2 = """
AdditionalPropertiesItem: oneof Schema schema = 1; oneof bool boolean = 2
Any: google.protobuf.Any value = 1; string yaml = 2
BodyParameter: string description = 1; string name = 2; string in = 3; bool required = 4; Schema schema = 5;
    repeated NamedAny vendor_extension = 6
Definitions: repeated NamedSchema additional_properties = 1
Document: string swagger = 1; Info info = 2; string host = 3; string base_path = 4; repeated string schemes = 5;
    repeated string consumes = 6; repeated string produces = 7; Paths paths = 8; Definitions definitions = 9;
    ParameterDefinitions parameters = 10; ResponseDefinitions responses = 11;
    repeated SecurityRequirement security = 12; SecurityDefinitions security_definitions = 13;
    repeated Tag tags = 14; ExternalDocs external_docs = 15; repeated NamedAny vendor_extension = 16
FormDataParameterSubSchema: bool required = 1; string in = 2; string description = 3; string name = 4;
    bool allow_empty_value = 5; string type = 6; string format = 7; PrimitivesItems items = 8;
    string collection_format = 9; Any default = 10; double maximum = 11; bool exclusive_maximum = 12;
    double minimum = 13; bool exclusive_minimum = 14; int64 max_length = 15; int64 min_length = 16;
    string pattern = 17; int64 max_items = 18; int64 min_items = 19; bool unique_items = 20;
    repeated Any enum = 21; double multiple_of = 22; repeated NamedAny vendor_extension = 23
HeaderParameterSubSchema: bool required = 1; string in = 2; string description = 3; string name = 4;
    string type = 5; string format = 6; PrimitivesItems items = 7; string collection_format = 8;
    Any default = 9; double maximum = 10; bool exclusive_maximum = 11; double minimum = 12;
    bool exclusive_minimum = 13; int64 max_length = 14; int64 min_length = 15; string pattern = 16;
    int64 max_items = 17; int64 min_items = 18; bool unique_items = 19; repeated Any enum = 20;
    double multiple_of = 21; repeated NamedAny vendor_extension = 22
Info: string title = 1; string version = 2; string description = 3; string terms_of_service = 4;
    Contact contact = 5; License license = 6; repeated NamedAny vendor_extension = 7
ItemsItem: repeated Schema schema = 1
JsonReference: string _ref = 1; string description = 2
NamedAny: string name = 1; Any value = 2
NamedPathItem: string name = 1; PathItem value = 2
NamedResponseValue: string name = 1; ResponseValue value = 2
NamedSchema: string name = 1; Schema value = 2
NonBodyParameter: oneof HeaderParameterSubSchema header_parameter_sub_schema = 1;
    oneof FormDataParameterSubSchema form_data_parameter_sub_schema = 2;
    oneof QueryParameterSubSchema query_parameter_sub_schema = 3;
    oneof PathParameterSubSchema path_parameter_sub_schema = 4
Operation: repeated string tags = 1; string summary = 2; string description = 3; ExternalDocs external_docs = 4;
    string operation_id = 5; repeated string produces = 6; repeated string consumes = 7;
    repeated ParametersItem parameters = 8; Responses responses = 9; repeated string schemes = 10;
    bool deprecated = 11; repeated SecurityRequirement security = 12; repeated NamedAny vendor_extension = 13
Parameter: oneof BodyParameter body_parameter = 1; oneof NonBodyParameter non_body_parameter = 2
ParametersItem: oneof Parameter parameter = 1; oneof JsonReference json_reference = 2
PathItem: string _ref = 1; Operation get = 2; Operation put = 3; Operation post = 4; Operation delete = 5;
    Operation options = 6; Operation head = 7; Operation patch = 8; repeated ParametersItem parameters = 9;
    repeated NamedAny vendor_extension = 10
PathParameterSubSchema: bool required = 1; string in = 2; string description = 3; string name = 4;
    string type = 5; string format = 6; PrimitivesItems items = 7; string collection_format = 8;
    Any default = 9; double maximum = 10; bool exclusive_maximum = 11; double minimum = 12;
    bool exclusive_minimum = 13; int64 max_length = 14; int64 min_length = 15; string pattern = 16;
    int64 max_items = 17; int64 min_items = 18; bool unique_items = 19; repeated Any enum = 20;
    double multiple_of = 21; repeated NamedAny vendor_extension = 22
Paths: repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2
Properties: repeated NamedSchema additional_properties = 1
QueryParameterSubSchema: bool required = 1; string in = 2; string description = 3; string name = 4;
    bool allow_empty_value = 5; string type = 6; string format = 7; PrimitivesItems items = 8;
    string collection_format = 9; Any default = 10; double maximum = 11; bool exclusive_maximum = 12;
    double minimum = 13; bool exclusive_minimum = 14; int64 max_length = 15; int64 min_length = 16;
    string pattern = 17; int64 max_items = 18; int64 min_items = 19; bool unique_items = 20;
    repeated Any enum = 21; double multiple_of = 22; repeated NamedAny vendor_extension = 23
Response: string description = 1; SchemaItem schema = 2; Headers headers = 3; Examples examples = 4;
    repeated NamedAny vendor_extension = 5
ResponseValue: oneof Response response = 1; oneof JsonReference json_reference = 2
Responses: repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2
Schema: string _ref = 1; string format = 2; string title = 3; string description = 4; Any default = 5;
    double multiple_of = 6; double maximum = 7; bool exclusive_maximum = 8; double minimum = 9;
    bool exclusive_minimum = 10; int64 max_length = 11; int64 min_length = 12; string pattern = 13;
    int64 max_items = 14; int64 min_items = 15; bool unique_items = 16; int64 max_properties = 17;
    int64 min_properties = 18; repeated string required = 19; repeated Any enum = 20;
    AdditionalPropertiesItem additional_properties = 21; TypeItem type = 22; ItemsItem items = 23;
    repeated Schema all_of = 24; Properties properties = 25; string discriminator = 26; bool read_only = 27;
    Xml xml = 28; ExternalDocs external_docs = 29; Any example = 30; repeated NamedAny vendor_extension = 31
SchemaItem: oneof Schema schema = 1; oneof FileSchema file_schema = 2
TypeItem: repeated string value = 1
Contact:
Examples:
ExternalDocs:
FileSchema:
Headers:
License:
ParameterDefinitions:
PrimitivesItems:
ResponseDefinitions:
SecurityDefinitions:
SecurityRequirement:
Tag:
Xml:
"""

_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
}


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The table above as a proto3 file ``openapiv2/OpenAPIv2.proto`` in package ``openapi.v2``."""
    proto = descriptor_pb2.FileDescriptorProto(name="openapiv2/OpenAPIv2.proto", package="openapi.v2",
                                               syntax="proto3", dependency=["google/protobuf/any.proto"])
    text = GNOSTIC_OPENAPI_V2.replace("\n    ", " ")
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, _, body = line.partition(":")
        message = proto.message_type.add(name=name)
        for field_text in filter(None, (f.strip() for f in body.split(";"))):
            words, _, number = field_text.partition(" = ")
            *modifiers, type_name, field_name = words.split()
            field = message.field.add(name=field_name, number=int(number),
                                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            if "repeated" in modifiers:
                field.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            if "oneof" in modifiers:
                if not message.oneof_decl:
                    message.oneof_decl.add(name="oneof")
                field.oneof_index = 0
            if type_name in _SCALARS:
                field.type = _SCALARS[type_name]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = f".{type_name}" if "." in type_name else f".openapi.v2.{type_name}"
    return proto


def _document_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    pool.Add(any_file)
    pool.Add(_file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("openapi.v2.Document"))


def _decode(encoded: bytes) -> Any:
    """A dynamic ``openapi.v2.Document`` (its fields are not known to the type checker)."""
    document = _document_class()()
    document.ParseFromString(encoded)
    _assert_no_unknown_fields(document, "Document")
    return document


def _assert_no_unknown_fields(message: Message, where: str) -> None:
    unknown = unknown_fields.UnknownFieldSet(message)
    assert len(unknown) == 0, f"{where}: fields gnostic does not define: {[unknown[i].field_number for i in range(len(unknown))]}"
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for index, child in enumerate(value if field.is_repeated else [value]):
            _assert_no_unknown_fields(child, f"{where}.{field.name}[{index}]")


# -- gnostic messages back to swagger JSON, by field name -------------------------------------------


def _any(message: Any) -> Any:
    return yaml.safe_load(message.yaml)


def _named_map(entries: Any, convert: Any) -> JSON:
    return {entry.name: convert(entry.value) for entry in entries}


def _extensions(entries: Any) -> JSON:
    return _named_map(entries, _any)


_SCHEMA_SCALARS = {"_ref": "$ref", "format": "format", "title": "title", "description": "description",
                   "multiple_of": "multipleOf", "maximum": "maximum", "exclusive_maximum": "exclusiveMaximum",
                   "minimum": "minimum", "exclusive_minimum": "exclusiveMinimum", "max_length": "maxLength",
                   "min_length": "minLength", "pattern": "pattern", "max_items": "maxItems",
                   "min_items": "minItems", "unique_items": "uniqueItems", "max_properties": "maxProperties",
                   "min_properties": "minProperties", "discriminator": "discriminator", "read_only": "readOnly"}


def _schema(message: Any) -> JSON:
    out: JSON = {}
    for field, value in message.ListFields():
        if field.name in _SCHEMA_SCALARS:
            out[_SCHEMA_SCALARS[field.name]] = value
    if message.HasField("default"):
        out["default"] = _any(message.default)
    if message.required:
        out["required"] = list(message.required)
    if message.enum:
        out["enum"] = [_any(value) for value in message.enum]
    if message.HasField("additional_properties"):
        additional = message.additional_properties
        out["additionalProperties"] = (_schema(additional.schema) if additional.WhichOneof("oneof") == "schema"
                                       else additional.boolean)
    if message.HasField("type"):
        types = list(message.type.value)
        out["type"] = types[0] if len(types) == 1 else types
    if message.HasField("items"):
        items = [_schema(s) for s in message.items.schema]
        out["items"] = items[0] if len(items) == 1 else items
    if message.all_of:
        out["allOf"] = [_schema(s) for s in message.all_of]
    if message.HasField("properties"):
        out["properties"] = _named_map(message.properties.additional_properties, _schema)
    if message.HasField("example"):
        out["example"] = _any(message.example)
    return out | _extensions(message.vendor_extension)


def _parameter(item: Any) -> JSON:
    if item.WhichOneof("oneof") == "json_reference":
        reference: JSON = {"$ref": item.json_reference._ref}
        return reference | ({"description": item.json_reference.description}
                            if item.json_reference.description else {})
    parameter = item.parameter
    if parameter.WhichOneof("oneof") == "body_parameter":
        body = parameter.body_parameter
        out: JSON = {"name": body.name, "in": getattr(body, "in"), "schema": _schema(body.schema)}
        return out | ({"description": body.description} if body.description else {}) | (
            {"required": True} if body.required else {})
    non_body = parameter.non_body_parameter
    sub = getattr(non_body, non_body.WhichOneof("oneof"))
    out = {"name": sub.name, "in": getattr(sub, "in"), "type": sub.type}
    if sub.description:
        out["description"] = sub.description
    if sub.required:
        out["required"] = True
    if sub.unique_items:
        out["uniqueItems"] = True
    return out


def _operation(message: Any) -> JSON:
    out: JSON = {}
    for field, key in (("tags", "tags"), ("produces", "produces"), ("consumes", "consumes"), ("schemes", "schemes")):
        if getattr(message, field):
            out[key] = list(getattr(message, field))
    for field, key in (("summary", "summary"), ("description", "description"), ("operation_id", "operationId")):
        if getattr(message, field):
            out[key] = getattr(message, field)
    if message.deprecated:
        out["deprecated"] = True
    if message.parameters:
        out["parameters"] = [_parameter(p) for p in message.parameters]
    responses: JSON = {}
    for entry in message.responses.response_code:
        value = entry.value
        if value.WhichOneof("oneof") == "json_reference":
            responses[entry.name] = {"$ref": value.json_reference._ref}
            continue
        response: JSON = {"description": value.response.description}
        if value.response.HasField("schema"):
            response["schema"] = _schema(value.response.schema.schema)
        responses[entry.name] = response | _extensions(value.response.vendor_extension)
    out["responses"] = responses
    return out | _extensions(message.vendor_extension)


def _path_item(message: Any) -> JSON:
    out: JSON = {"$ref": message._ref} if message._ref else {}
    for method in ("get", "put", "post", "delete", "options", "head", "patch"):
        if message.HasField(method):
            out[method] = _operation(getattr(message, method))
    if message.parameters:
        out["parameters"] = [_parameter(p) for p in message.parameters]
    return out | _extensions(message.vendor_extension)


def _swagger(document: Any) -> JSON:
    out: JSON = {"swagger": document.swagger,
                 "info": {"title": document.info.title, "version": document.info.version}}
    if document.info.description:
        out["info"]["description"] = document.info.description
    for field, key in (("host", "host"), ("base_path", "basePath")):
        if getattr(document, field):
            out[key] = getattr(document, field)
    for field in ("schemes", "consumes", "produces"):
        if getattr(document, field):
            out[field] = list(getattr(document, field))
    out["paths"] = _extensions(document.paths.vendor_extension) | _named_map(document.paths.path, _path_item)
    out["definitions"] = _named_map(document.definitions.additional_properties, _schema)
    return out | _extensions(document.vendor_extension)


# -- tests ------------------------------------------------------------------------------------------


# One of everything the encoder writes: each schema keyword, each kind of parameter (body, query,
# header, path, formData, $ref), responses by schema and by $ref, and extensions at every level.
EVERY_FEATURE: JSON = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": "v1.35.0", "description": "everything"},
    "host": "example.com", "basePath": "/base", "schemes": ["https"],
    "consumes": ["application/json"], "produces": ["application/json", "application/yaml"],
    "x-document": {"nested": [1, "two"]},
    "paths": {
        "x-paths": "extension",
        "/api/v1/namespaces/{namespace}/things/{name}": {
            "parameters": [{"name": "namespace", "in": "path", "type": "string", "required": True,
                            "uniqueItems": True, "description": "the namespace"},
                           {"$ref": "#/parameters/pretty", "description": "pretty"}],
            "x-path-item": True,
            "put": {
                "tags": ["coreV1"], "summary": "replace", "description": "replace a thing",
                "operationId": "replaceThing", "produces": ["application/json"],
                "consumes": ["application/merge-patch+json"], "schemes": ["https"], "deprecated": True,
                "parameters": [
                    {"name": "body", "in": "body", "required": True, "description": "the thing",
                     "schema": {"$ref": "#/definitions/Thing"}},
                    {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": True},
                    {"name": "X-Trace", "in": "header", "type": "string", "description": "trace id"},
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                ],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Thing"},
                                      "x-response": "yes"},
                              "401": {"$ref": "#/responses/unauthorized"}},
                "x-kubernetes-action": "put",
                "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Thing"},
            },
            "get": {"operationId": "readThing", "responses": {"200": {"description": "OK"}}},
            "post": {"operationId": "a", "responses": {}}, "delete": {"operationId": "b", "responses": {}},
            "options": {"operationId": "c", "responses": {}}, "head": {"operationId": "d", "responses": {}},
            "patch": {"operationId": "e", "responses": {}},
        },
    },
    "definitions": {
        "Thing": {
            "description": "a thing", "title": "Thing", "type": "object", "required": ["spec", "kind"],
            "properties": {
                "kind": {"type": "string", "enum": ["Thing", "Other"], "default": "Thing", "pattern": "^[A-Z]",
                         "minLength": 1, "maxLength": 63, "example": "Thing", "readOnly": True},
                "count": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10.5,
                          "exclusiveMinimum": True, "exclusiveMaximum": True, "multipleOf": 0.5},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4,
                         "uniqueItems": True, "x-kubernetes-list-type": "set"},
                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"},
                           "minProperties": 1, "maxProperties": 9},
                "closed": {"type": "object", "additionalProperties": False},
                "open": {"type": "object", "additionalProperties": True},
                "nullable": {"type": ["string", "null"]},
                "spec": {"allOf": [{"$ref": "#/definitions/Spec"}], "description": "the spec",
                         "x-kubernetes-patch-strategy": "merge"},
            },
            "discriminator": "kind",
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Thing", "version": "v1"}],
        },
        "Spec": {"type": "object", "properties": {"size": {"type": "integer", "format": "int64", "minimum": -5}}},
    },
}


def test_every_field_we_write_lands_where_gnostic_defines_it() -> None:
    decoded = _decode(openapi_proto.encode_document(EVERY_FEATURE))
    assert _swagger(decoded) == EVERY_FEATURE


def test_the_served_kubernetes_document_round_trips_through_gnostic_messages() -> None:
    """The whole built-in v2 document (500 definitions, every path) as kubectl receives it."""
    served = openapi.openapi_v2(DEFAULT_VERSION).body
    encoded, etag = openapi_proto.protobuf_document(served)
    decoded = _decode(encoded)
    assert _swagger(decoded) == orjson.loads(served)
    assert etag.startswith('"') and len(etag) == 130
    # What kubectl's validation looks up: a kind by its group-version-kind extension.
    pod = next(entry.value for entry in decoded.definitions.additional_properties
               if entry.name == "io.k8s.api.core.v1.Pod")
    gvk = next(_any(ext.value) for ext in pod.vendor_extension if ext.name == "x-kubernetes-group-version-kind")
    assert gvk == [{"group": "", "kind": "Pod", "version": "v1"}]


@pytest.mark.parametrize("value", [-1, -(2**40), 2**40])
def test_negative_and_large_integers_are_int64_varints(value: int) -> None:
    decoded = _decode(openapi_proto.encode_document({"definitions": {"N": {"minLength": value}}}))
    assert decoded.definitions.additional_properties[0].value.min_length == value
