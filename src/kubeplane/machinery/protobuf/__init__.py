"""Decoding of ``application/vnd.kubernetes.protobuf`` request bodies into JSON dicts.

kubectl's typed clients send protobuf; the API server keeps objects as JSON, so bodies are
decoded once at the edge (responses stay JSON: clients decode by the response Content-Type).
"""

from kubeplane.machinery.protobuf.envelope import MEDIA_TYPE, decode, is_protobuf

__all__ = ["MEDIA_TYPE", "decode", "is_protobuf"]
