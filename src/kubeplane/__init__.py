"""kubeplane: a self-hosted, EKS-compatible managed Kubernetes service.

Packages follow the architecture page (docs/architecture.md): ``machinery`` and ``component`` are
shared by everything; ``storage`` is imported only by ``apiserver``; components meet only through
the API.
"""
