"""The three PATCH content types kube-apiserver accepts besides server-side apply.

- ``json_patch``: RFC 6902 operations (application/json-patch+json)
- ``merge_patch``: RFC 7386 (application/merge-patch+json)
- ``strategic``: Kubernetes strategic merge patch, driven by the OpenAPI patch extensions
  (application/strategic-merge-patch+json)

Each ``apply`` returns a new document and never mutates its inputs; failures are StatusErrors with
upstream's code and message.
"""

from kubeplane.machinery.patch import json_patch, merge_patch, strategic

__all__ = ["json_patch", "merge_patch", "strategic"]
