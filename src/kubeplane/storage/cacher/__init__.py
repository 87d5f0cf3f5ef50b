"""The watch cache: serves LIST and WATCH for one resource prefix from memory."""

from kubeplane.storage.cacher.cacher import Cacher, namespaced_key

__all__ = ["Cacher", "namespaced_key"]
