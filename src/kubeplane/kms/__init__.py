"""KMS v2 plugins: the gRPC API the API server's envelope encryption calls (``api.py``) and a local
plugin that keeps its key-encryption keys in a file (``kubeplane kms-plugin``).

This is the seam a region's key service plugs into: anything that serves ``v2.KeyManagementService``
on a unix socket can replace the local plugin.
"""
