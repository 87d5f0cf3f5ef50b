"""Validation of a CRD's ``spec.conversion`` when its strategy is ``Webhook``, as upstream's.

Upstream validates the internal CRD type, so its field paths name the internal fields
(``spec.conversion.webhookClientConfig``, ``spec.conversion.conversionReviewVersions``) although
v1 objects spell them ``spec.conversion.webhook.clientConfig`` / ``.conversionReviewVersions``;
the messages here use upstream's paths so clients see the same errors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import names as name_checks

from .conversion_webhook import SUPPORTED_REVIEW_VERSIONS

JSON = dict[str, Any]

CLIENT_CONFIG_PATH = "spec.conversion.webhookClientConfig"
REVIEW_VERSIONS_PATH = "spec.conversion.conversionReviewVersions"
_URL_FORM = "; desired format: https://host[/path]"


def validate_webhook_conversion(spec: JSON, require_recognized_review_version: bool = True) -> list[Cause]:
    """Causes for ``spec`` (a CRD spec) whose conversion strategy is Webhook; [] otherwise.

    ``require_recognized_review_version`` is false on an update whose old CRD listed no version
    this server speaks either (upstream lets such CRDs keep being updated).
    """
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict) or conversion.get("strategy") != "Webhook":
        return []
    causes: list[Cause] = []
    if spec.get("preserveUnknownFields") is True:
        causes.append(f.invalid("spec.preserveUnknownFields", True,
                                "must be false in order to use webhooks for conversion"))
    webhook = conversion.get("webhook")
    webhook = webhook if isinstance(webhook, dict) else {}
    client_config = webhook.get("clientConfig")
    if not isinstance(client_config, dict):
        causes.append(f.required(CLIENT_CONFIG_PATH, "required when strategy is set to Webhook"))
    else:
        causes += validate_client_config(CLIENT_CONFIG_PATH, client_config)
    causes += _review_versions(webhook.get("conversionReviewVersions"), require_recognized_review_version)
    return causes


def validate_client_config(path: str, client_config: JSON) -> list[Cause]:
    """A webhook clientConfig: exactly one of an https url or a service reference."""
    url, service = client_config.get("url"), client_config.get("service")
    if (url is None) == (service is None):
        return [f.required(path, "exactly one of url or service is required")]
    if url is not None:
        return validate_url(f"{path}.url", str(url))
    return validate_service(f"{path}.service", service if isinstance(service, dict) else {})


def validate_url(path: str, url: str) -> list[Cause]:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a bad port, as Go's url.Parse does
    except ValueError as exc:
        return [f.required(path, f"url must be a valid URL: {exc}{_URL_FORM}")]
    del port
    causes: list[Cause] = []
    if parts.scheme != "https":
        causes.append(f.invalid(path, parts.scheme, f"'https' is the only allowed URL scheme{_URL_FORM}"))
    if not parts.hostname:
        causes.append(f.invalid(path, parts.netloc.rpartition("@")[2], f"host must be specified{_URL_FORM}"))
    if "@" in parts.netloc:
        causes.append(f.invalid(path, parts.netloc.rpartition("@")[0], "user information is not permitted in the URL"))
    if parts.fragment:
        causes.append(f.invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        causes.append(f.invalid(path, parts.query, "query parameters are not permitted in the URL"))
    return causes


def validate_service(path: str, service: JSON) -> list[Cause]:
    causes: list[Cause] = []
    if not service.get("name"):
        causes.append(f.required(f"{path}.name", "service name is required"))
    if not service.get("namespace"):
        causes.append(f.required(f"{path}.namespace", "service namespace is required"))
    port = service.get("port", 443)
    port_problems = name_checks.port_number(port) if isinstance(port, int) else ["must be an integer"]
    if port_problems:
        causes.append(f.invalid(f"{path}.port", port, "port is not valid: " + ", ".join(port_problems)))
    url_path = service.get("path")
    if url_path is None or url_path in ("", "/"):
        return causes
    url_path = str(url_path)
    if url_path == "//":
        return [*causes, f.invalid(f"{path}.path", url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        causes.append(f.invalid(f"{path}.path", url_path, "must start with a '/'"))
    segments = url_path[1:].removesuffix("/").split("/")
    for i, segment in enumerate(segments):
        if not segment:
            causes.append(f.invalid(f"{path}.path", url_path, f"segment[{i}] may not be empty"))
            continue
        causes += [f.invalid(f"{path}.path", url_path, f"segment[{i}]: {problem}")
                   for problem in name_checks.dns1123_subdomain(segment)]
    return causes


def _review_versions(versions: Any, require_recognized: bool) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [f.required(REVIEW_VERSIONS_PATH)]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        item = f"{REVIEW_VERSIONS_PATH}[{i}]"
        if version in seen:
            causes.append(f.invalid(item, version, "duplicate version"))
            continue
        seen.add(version)
        causes += f.invalid_all(item, version, name_checks.dns1035_label(str(version)))
    if require_recognized and not seen & set(SUPPORTED_REVIEW_VERSIONS):
        # Go prints the []string with %v: [v2 v3].
        rendered = f.Rendered("[" + " ".join(str(v) for v in versions) + "]")
        causes.append(f.invalid(REVIEW_VERSIONS_PATH, rendered,
                                f"must include at least one of {', '.join(sorted(SUPPORTED_REVIEW_VERSIONS))}"))
    return causes


__all__ = ["validate_client_config", "validate_service", "validate_url", "validate_webhook_conversion"]
