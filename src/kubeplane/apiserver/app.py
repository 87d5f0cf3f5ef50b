"""``kubeplane apiserver``: options -> config -> a running server.

Flags are named like kube-apiserver's where they mean the same. Several replicas pointed at one
etcd behave as one API server: all state, including service IP and port allocations, lives in etcd
and every write is a compare-and-swap.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kubeplane.apiserver.admission import AdmissionConfig, AdmissionConfigError, enabled_plugins
from kubeplane.apiserver.apiextensions.serving import CustomResourceServing
from kubeplane.apiserver.audit import AuditOptions
from kubeplane.apiserver.authn import AuthenticationOptions, RegistryObjects, build_authentication
from kubeplane.apiserver.authz import Attributes as AuthzAttributes
from kubeplane.apiserver.authz import (
    Authorizer,
    Decision,
    EscalationGuard,
    NodeAuthorizer,
    NodeGraph,
    PrivilegedGroupsAuthorizer,
    RBACAuthorizer,
    RuleSet,
    UnionAuthorizer,
    UserInfo,
    bootstrap_policy,
    node_rules,
)
from kubeplane.apiserver.authz.live import LiveRBACSource
from kubeplane.apiserver.bootstrap import SERVICE_REPAIR_INTERVAL, bootstrap, repair_services_every
from kubeplane.apiserver.endpoints.proxy import KubeletClientConfig, KubeletProxy
from kubeplane.apiserver.registry.registry import Registry, RegistryConfig
from kubeplane.apiserver.server import APIServer, HealthChecks, server_ssl_context
from kubeplane.catalog import DEFAULT_VERSION, Catalog, ResourceInfo
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.machinery import fields
from kubeplane.storage.cacher.cacher import Cacher
from kubeplane.storage.encryption import EncryptingKV, EncryptionConfig, EncryptionConfigError
from kubeplane.storage.etcd3 import Etcd3Storage

log = logging.getLogger("kubeplane.apiserver")


@dataclass
class Options:
    etcd_servers: str
    etcd_prefix: str
    secure_port: int
    bind_address: str
    advertise_address: str
    tls_cert_file: str
    tls_private_key_file: str
    client_ca_file: str
    service_cluster_ip_range: str
    service_node_port_range: str
    kubernetes_version: str
    cert_dir: str
    log_file: str
    watch_cache_size: int
    bookmark_interval: float
    authentication: AuthenticationOptions
    service_repair_interval: float = SERVICE_REPAIR_INTERVAL
    # Admission plugins in effect (upstream's defaults +enable -disable) and their config file.
    admission_plugins: tuple[str, ...] = ()
    admission_control_config_file: str = ""
    # Audit logging (--audit-*) and encryption at rest (--encryption-provider-config).
    audit: AuditOptions | None = None
    encryption_provider_config: str = ""
    kubelet: KubeletClientConfig = field(default_factory=KubeletClientConfig)
    # --authorization-mode, in order (upstream's default for kubeadm/EKS clusters: Node,RBAC).
    authorization_modes: tuple[str, ...] = ("Node", "RBAC")


# Upstream's modes we have (ABAC and Webhook are not implemented).
AUTHORIZATION_MODES = ("Node", "RBAC", "AlwaysAllow")


class AlwaysAllowAuthorizer:
    """--authorization-mode=AlwaysAllow: every request is allowed (benchmarks, tests)."""

    def authorize(self, attrs: AuthzAttributes) -> Decision:
        return Decision(True)

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        # Upstream's AlwaysAllow reports ``*`` on everything for SelfSubjectRulesReview.
        return RuleSet(resource_rules=[{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                       non_resource_rules=[{"verbs": ["*"], "nonResourceURLs": ["*"]}])


def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="kubeplane apiserver", description="The Kubernetes API server.")
    p.add_argument("--etcd-servers", required=True, help="comma-separated etcd client URLs")
    p.add_argument("--etcd-prefix", default="/registry")
    p.add_argument("--secure-port", type=int, default=6443)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--advertise-address", default="127.0.0.1")
    p.add_argument("--tls-cert-file", default="")
    p.add_argument("--tls-private-key-file", default="")
    p.add_argument("--client-ca-file", default="")
    p.add_argument("--service-cluster-ip-range", default="198.19.0.0/16")
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--kubernetes-version", default=DEFAULT_VERSION)
    p.add_argument("--cert-dir", default="")
    p.add_argument("--service-repair-interval", type=float, default=SERVICE_REPAIR_INTERVAL,
                   help="seconds between repairs of the ClusterIP and NodePort ranges (upstream: 3 minutes)")
    p.add_argument("--log-file", default="")
    p.add_argument("--watch-cache-size", type=int, default=10000,
                   help="events of history kept per resource for watches from an old resourceVersion")
    p.add_argument("--watch-bookmark-interval", dest="bookmark_interval", type=float, default=60.0)
    p.add_argument("--enable-admission-plugins", default="",
                   help="admission plugins to enable besides the default-on ones (comma-separated)")
    p.add_argument("--disable-admission-plugins", default="",
                   help="admission plugins to disable, default-on ones included (comma-separated)")
    p.add_argument("--admission-control-config-file", default="",
                   help="AdmissionConfiguration file with per-plugin configuration")
    p.add_argument("--authorization-mode", default="Node,RBAC",
                   help=f"ordered authorizers, comma-separated, of {', '.join(AUTHORIZATION_MODES)}")
    p.add_argument("--kubelet-client-certificate", default="",
                   help="client certificate the API server presents to kubelets (logs, exec, port-forward)")
    p.add_argument("--kubelet-client-key", default="")
    p.add_argument("--kubelet-certificate-authority", default="",
                   help="CA to verify kubelet serving certificates with (default: not verified, as upstream)")
    p.add_argument("--kubelet-address", default="127.0.0.1",
                   help="where kubelets are dialled (at each Node's daemonEndpoints port); ours: kubelets of "
                        "the simulation serve on the host's loopback")
    AuthenticationOptions.add_flags(p)
    AuditOptions.add_flags(p)
    p.add_argument("--encryption-provider-config", default="",
                   help="EncryptionConfiguration: how resources (e.g. secrets) are encrypted in etcd")
    values = vars(p.parse_args(argv))
    audit = AuditOptions.take(values)
    for problem in audit.validate():
        p.error(problem)
    if values["encryption_provider_config"]:
        try:
            EncryptionConfig.load(values["encryption_provider_config"])
        except EncryptionConfigError as exc:
            p.error(f"--encryption-provider-config: {exc}")
    kubelet = KubeletClientConfig(address=values.pop("kubelet_address"),
                                  client_certificate=values.pop("kubelet_client_certificate"),
                                  client_key=values.pop("kubelet_client_key"),
                                  certificate_authority=values.pop("kubelet_certificate_authority"))
    if bool(kubelet.client_certificate) != bool(kubelet.client_key):
        p.error("--kubelet-client-certificate and --kubelet-client-key go together")
    authentication = AuthenticationOptions.take(values)  # first: it removes its flags from values
    enable, disable = values.pop("enable_admission_plugins"), values.pop("disable_admission_plugins")
    try:
        admission_plugins = tuple(enabled_plugins(enable.split(","), disable.split(",")))
    except AdmissionConfigError as exc:
        p.error(str(exc))
    modes = tuple(m.strip() for m in values.pop("authorization_mode").split(",") if m.strip())
    unknown = [m for m in modes if m not in AUTHORIZATION_MODES]
    if unknown or not modes or len(set(modes)) != len(modes):
        p.error(f"--authorization-mode: {', '.join(unknown) or 'no or repeated modes'}: "
                f"choose from {', '.join(AUTHORIZATION_MODES)}")
    opts = Options(**values, authentication=authentication, admission_plugins=admission_plugins, kubelet=kubelet,
                   authorization_modes=modes)
    opts.audit = audit
    try:
        ipaddress.ip_network(opts.service_cluster_ip_range)
    except ValueError:
        p.error(f"--service-cluster-ip-range: not a CIDR: {opts.service_cluster_ip_range}")
    try:
        low, high = (int(x) for x in opts.service_node_port_range.split("-"))
        if not 0 < low <= high < 65536:
            raise ValueError
    except ValueError:
        p.error(f"--service-node-port-range: want LOW-HIGH, got {opts.service_node_port_range}")
    if not opts.service_repair_interval > 0:
        p.error(f"--service-repair-interval: want seconds above 0, got {opts.service_repair_interval}")
    if (opts.tls_cert_file == "") != (opts.tls_private_key_file == ""):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    if not opts.tls_cert_file and not opts.cert_dir:
        p.error("serving needs --tls-cert-file/--tls-private-key-file or --cert-dir")
    return opts


def _serving_files(opts: Options) -> tuple[str, str]:
    if opts.tls_cert_file:
        return opts.tls_cert_file, opts.tls_private_key_file
    # Self-signed serving certificate in --cert-dir, as kube-apiserver does without flags.
    from kubeplane.component import pki

    cert_dir = Path(opts.cert_dir)
    cert, key = cert_dir / "apiserver.crt", cert_dir / "apiserver.key"
    if not cert.exists():
        cert_dir.mkdir(parents=True, exist_ok=True)
        ca = pki.create_ca("kubeplane-apiserver-self-signed")
        pki.write_certified_key(pki.issue_apiserver_cert(ca, opts.service_cluster_ip_range), cert, key)
    return str(cert), str(key)


async def run(opts: Options, stop: asyncio.Event) -> None:
    catalog = Catalog.for_version(opts.kubernetes_version)
    etcd_url = opts.etcd_servers.split(",")[0]
    raw = Etcd3Storage(etcd_url)
    # Encryption at rest: values pass through the configured providers between the store and etcd.
    encryption = EncryptingKV(raw.kv, EncryptionConfig.load(opts.encryption_provider_config)) \
        if opts.encryption_provider_config else None
    if encryption is not None:
        raw.kv = encryption
    cachers: list[Cacher] = []

    def storage_for(prefix: str, info: ResourceInfo | None) -> Cacher:
        # Cached objects keep only what the resource's selectors read beside their encoded bytes.
        projection = fields.selectable_projection(info.group, info.resource) if info else None
        if encryption is not None and info is not None:
            encryption.register(prefix, info.group, info.resource)
        cacher = Cacher(raw, prefix, capacity=opts.watch_cache_size, bookmark_interval=opts.bookmark_interval,
                        projection=projection)
        cachers.append(cacher)
        return cacher

    low, high = (int(x) for x in opts.service_node_port_range.split("-"))
    registry = Registry(catalog, storage_for, RegistryConfig(
        key_prefix=opts.etcd_prefix.rstrip("/"), service_cidr=opts.service_cluster_ip_range,
        node_port_base=low, node_port_size=high - low + 1, admission_plugins=opts.admission_plugins,
        admission_config=AdmissionConfig.load(opts.admission_control_config_file)))

    async def etcd_check() -> None:
        await asyncio.wait_for(raw.current_revision(), 2.0)

    kms_checks = encryption.health_checks() if encryption is not None else {}
    health = HealthChecks({"etcd": etcd_check, **kms_checks})
    rbac = LiveRBACSource()
    # Upstream's --authorization-mode=Node,RBAC: the Node authorizer answers kubelets first.
    node_graph = NodeGraph()
    node_authorizer = NodeAuthorizer(node_graph, node_rules(bootstrap_policy(catalog.minor)))
    by_mode: dict[str, Authorizer] = {"Node": node_authorizer, "RBAC": RBACAuthorizer(rbac),
                                      "AlwaysAllow": AlwaysAllowAuthorizer()}
    authorizer = UnionAuthorizer([PrivilegedGroupsAuthorizer(), *(by_mode[m] for m in opts.authorization_modes)])
    for store in registry.rbac_stores():
        store.guard = EscalationGuard(rbac, authorizer)
    advertise = f"{opts.advertise_address}:{opts.secure_port}"
    authentication = build_authentication(opts.authentication, RegistryObjects(registry), catalog.minor, advertise)
    server = APIServer(catalog, registry, health, advertise, authorizer=authorizer, authentication=authentication)
    server.audit = (opts.audit or AuditOptions()).build()
    server.audit.start()
    server.kubelets = KubeletProxy(opts.kubelet, registry.core("nodes"))
    cert, key = _serving_files(opts)
    ssl_context = server_ssl_context(cert, key, opts.client_ca_file or None)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, opts.bind_address, opts.secure_port, ssl_context=ssl_context,
                       reuse_address=True)
    await site.start()
    log.info("serving on https://%s:%d (Kubernetes %s)", opts.bind_address, opts.secure_port, catalog.minor)
    compactor = raw.start_compactor()
    try:
        await asyncio.gather(*(c.start() for c in cachers))
        await bootstrap(registry, opts.advertise_address, opts.secure_port)
        await rbac.start(registry.rbac_stores())
        await node_graph.start(registry.core("pods"))
        await registry.admission_chain.start()
        custom_resources = CustomResourceServing(registry, server.handlers, server.schemas)
        await custom_resources.start()
        server.custom_resources = custom_resources
        server.ready = True
        log.info("ready")
        await repair_services_every(registry, opts.service_repair_interval, stop)
    finally:
        log.info("shutting down")
        await site.stop()  # no new connections
        await rbac.stop()
        await node_graph.stop()
        await registry.admission_chain.stop()
        if server.custom_resources is not None:
            await server.custom_resources.stop()
        await authentication.close()
        await server.kubelets.close()
        # Closing the caches ends every open watch stream, so the runner does not wait on clients
        # that went away without closing their connection.
        for cacher in cachers:
            await cacher.close()
        await runner.cleanup()
        await server.audit.stop()  # after the last request: writes the events still buffered
        await compactor.stop()
        await raw.close()


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("apiserver", opts.log_file or None)
    return run_until_signalled(lambda stop: run(opts, stop))


if __name__ == "__main__":
    raise SystemExit(main())
