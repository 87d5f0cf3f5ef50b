"""The kubelet's HTTPS server: /healthz, /pods, /containerLogs, /exec, /attach, /portForward."""

from kubeplane.kubelet.server.auth import User, WebhookAuthorizer
from kubeplane.kubelet.server.server import KubeletServer, ServerDeps, bind_socket, ssl_context
from kubeplane.kubelet.server.serving import ServingOptions, serving_files

__all__ = ["KubeletServer", "ServerDeps", "ServingOptions", "User", "WebhookAuthorizer", "bind_socket",
           "serving_files", "ssl_context"]
