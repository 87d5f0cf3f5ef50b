"""Node images without a registry: OCI archives written in Python and imported into containerd."""

from kubeplane.kubelet.images.builtin import (
    BUSYBOX_REFERENCE,
    PAUSE_REFERENCE,
    build_base_images,
    build_busybox,
    build_pause,
    default_build_dir,
)
from kubeplane.kubelet.images.importer import ImageImportError, ensure_imported, import_archive
from kubeplane.kubelet.images.oci import ImageConfig, Layer, OCIImage, write_image

__all__ = [
    "BUSYBOX_REFERENCE",
    "PAUSE_REFERENCE",
    "ImageConfig",
    "ImageImportError",
    "Layer",
    "OCIImage",
    "build_base_images",
    "build_busybox",
    "build_pause",
    "default_build_dir",
    "ensure_imported",
    "import_archive",
    "write_image",
]
