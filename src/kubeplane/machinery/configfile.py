"""Component configuration files (audit policy, encryption config, ...): YAML read from disk and
checked for their apiVersion and kind, failing with the component's own error type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_file(path: str | Path, what: str, error: type[Exception]) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"reading {what} {path}: {exc}") from exc


def typed_document(document: Any, what: str, api_version: str, kind: str,
                   error: type[Exception]) -> dict[str, Any]:
    """The document as a dict, once it is an object of ``kind`` in ``api_version``."""
    if not isinstance(document, dict):
        raise error(f"the {what} is not an object")
    if document.get("apiVersion") != api_version or document.get("kind") != kind:
        raise error(f"want kind {kind} in {api_version}, got kind {document.get('kind')!r} "
                    f"in {document.get('apiVersion')!r}")
    return document
