"""Authentication end to end: a real API server with service-account keys, bootstrap tokens and a token
webhook, driven by kubectl and raw HTTPS. The servers are this module's own (the shared fixture has no
service-account flags)."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from apiserver_process import KUBECTL, APIServerProcess, start_apiserver, stop_apiserver

from kubeplane.apiserver.authn.keys import load_private_key
from kubeplane.apiserver.authn.serviceaccount import TokenSigner, token_claims
from kubeplane.component import pki as pkilib
from kubeplane.component.pki import create_cluster_pki, write_signing_key_pair

pytestmark = pytest.mark.integration

ISSUER = "https://kubernetes.default.svc"


# -- helpers ------------------------------------------------------------------------------------------
def raw_request(server: APIServerProcess, method: str, path: str, token: str | None = None,
                headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
    """An HTTPS request without a client certificate (optionally with a bearer token)."""
    context = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def credential_free_kubeconfig(server: APIServerProcess, path: Path) -> Path:
    """A kubeconfig that trusts the cluster CA but carries no user credentials (use ``--token``)."""
    ca = base64.b64encode(server.pki.ca_cert.read_bytes()).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server.url, "certificate-authority-data": ca}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def kubectl_with_token(kubeconfig: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), f"--token={token}", *args],
                          capture_output=True, text=True, timeout=60)


def whoami(kubeconfig: Path, token: str) -> dict[str, Any]:
    result = kubectl_with_token(kubeconfig, token, "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)["status"]["userInfo"]
    return info


def assert_status(body: Any, code: int, reason: str) -> None:
    assert isinstance(body, dict) and body.get("kind") == "Status", body
    assert body["code"] == code and body["reason"] == reason, body


# -- the server with service-account tokens and bootstrap tokens -------------------------------------------
@pytest.fixture(scope="module")
def sa_server(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    workdir = tmp_path_factory.mktemp("authn")
    cluster_pki = create_cluster_pki(workdir / "pki", "198.19.0.0/16")
    # A retired signing key still listed for verification: tokens it signed keep working (rotation).
    write_signing_key_pair(workdir / "old-sa.key", workdir / "old-sa.pub")
    server = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry", pki=cluster_pki, extra=(
        f"--service-account-signing-key-file={cluster_pki.sa_key}",
        f"--service-account-key-file={cluster_pki.sa_pub}",
        f"--service-account-key-file={workdir / 'old-sa.pub'}",
        "--enable-bootstrap-token-auth"))
    yield server
    stop_apiserver(server)


@pytest.fixture(scope="module")
def token_config(sa_server: APIServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return credential_free_kubeconfig(sa_server, tmp_path_factory.mktemp("kubeconfig") / "config")


@pytest.fixture
def ns(sa_server: APIServerProcess) -> str:
    name = f"authn-{uuid.uuid4().hex[:8]}"
    sa_server.kubectl("create", "namespace", name)
    sa_server.kubectl("-n", name, "create", "serviceaccount", "builder")
    return name


def _create_token(server: APIServerProcess, ns: str, *args: str) -> str:
    return server.kubectl("-n", ns, "create", "token", "builder", *args).stdout.strip()


def test_anonymous_reads_public_info_only(sa_server: APIServerProcess) -> None:
    status, body = raw_request(sa_server, "GET", "/version")
    assert status == 200 and body["major"] == "1"
    assert raw_request(sa_server, "GET", "/healthz")[0] == 200
    # public-info-viewer grants "get" only: other methods on the public paths are authorized as usual.
    for path in ("/healthz", "/readyz/etcd", "/version"):
        _, body = raw_request(sa_server, "POST", path, body={})
        assert_status(body, 403, "Forbidden")
        assert body["message"] == f'forbidden: User "system:anonymous" cannot post path "{path}"'
    _, body = raw_request(sa_server, "GET", "/api/v1/pods")
    assert_status(body, 403, "Forbidden")
    assert body["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource "pods" in API '
                               'group "" at the cluster scope')
    # A bad credential is never downgraded to anonymous.
    _, body = raw_request(sa_server, "GET", "/version", token="garbage")
    assert_status(body, 401, "Unauthorized")
    assert body["message"] == "Unauthorized"


def test_token_request_and_whoami(sa_server: APIServerProcess, token_config: Path, ns: str) -> None:
    token = _create_token(sa_server, ns)
    info = whoami(token_config, token)
    assert info["username"] == f"system:serviceaccount:{ns}:builder"
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    # The service account may do nothing yet: authorization, not authentication, says no.
    denied = kubectl_with_token(token_config, token, "-n", ns, "get", "pods")
    assert denied.returncode != 0 and "forbidden" in denied.stderr


def test_wrong_audience_token_is_401_but_reviewable(sa_server: APIServerProcess, token_config: Path,
                                                    ns: str) -> None:
    token = _create_token(sa_server, ns, "--audience", "vault")
    _, body = raw_request(sa_server, "GET", "/version", token=token)
    assert_status(body, 401, "Unauthorized")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": token, "audiences": ["vault"]}}
    status, out, _ = sa_server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert status == 201 and out["status"]["authenticated"] is True
    assert out["status"]["audiences"] == ["vault"]
    assert out["status"]["user"]["username"] == f"system:serviceaccount:{ns}:builder"
    review["spec"] = {"token": token}
    status, out, _ = sa_server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert status == 201 and out["status"]["authenticated"] is False and "audiences" in out["status"]["error"]


def test_pod_bound_token_dies_with_the_pod(sa_server: APIServerProcess, token_config: Path, ns: str) -> None:
    sa_server.kubectl("-n", ns, "apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {serviceAccountName: builder, containers: [{name: c, image: busybox}]}\n"))
    token = _create_token(sa_server, ns, "--bound-object-kind", "Pod", "--bound-object-name", "web")
    info = whoami(token_config, token)
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    sa_server.kubectl("-n", ns, "delete", "pod", "web", "--grace-period=0", "--force")
    _, body = raw_request(sa_server, "GET", "/version", token=token)
    assert_status(body, 401, "Unauthorized")


def test_deleted_service_account_token_is_refused(sa_server: APIServerProcess, ns: str) -> None:
    token = _create_token(sa_server, ns)
    assert raw_request(sa_server, "GET", "/version", token=token)[0] == 200
    sa_server.kubectl("-n", ns, "delete", "serviceaccount", "builder")
    assert raw_request(sa_server, "GET", "/version", token=token)[0] == 401


def test_expired_forged_and_rotated_tokens(sa_server: APIServerProcess, ns: str) -> None:
    sa = json.loads(sa_server.kubectl("-n", ns, "get", "sa", "builder", "-o", "json").stdout)
    # The retired key (still a --service-account-key-file) sits in the server's work directory.
    old_signer = TokenSigner(ISSUER, load_private_key(sa_server.kubeconfig.parent / "old-sa.key"))
    rotated = old_signer.sign(token_claims(ISSUER, sa, [ISSUER], 3600, time.time()))
    assert raw_request(sa_server, "GET", "/version", token=rotated)[0] == 200
    expired = old_signer.sign(token_claims(ISSUER, sa, [ISSUER], 600, time.time() - 7200))
    assert raw_request(sa_server, "GET", "/version", token=expired)[0] == 401
    stranger = TokenSigner(ISSUER, pkilib.create_ca().key)
    forged = stranger.sign(token_claims(ISSUER, sa, [ISSUER], 3600, time.time()))
    assert raw_request(sa_server, "GET", "/version", token=forged)[0] == 401
    header, payload, signature = _create_token(sa_server, ns).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["aud"] = ["elsewhere"]
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert raw_request(sa_server, "GET", "/version", token=f"{header}.{tampered}.{signature}")[0] == 401


def test_issuer_discovery_and_jwks_verify_tokens(sa_server: APIServerProcess, ns: str) -> None:
    token = _create_token(sa_server, ns)
    # Bound to system:serviceaccounts only, as upstream: anonymous callers are refused.
    assert raw_request(sa_server, "GET", "/openid/v1/jwks")[0] == 403
    status, config = raw_request(sa_server, "GET", "/.well-known/openid-configuration", token=token)
    assert status == 200 and config["issuer"] == ISSUER
    assert config["jwks_uri"] == f"https://{sa_server.url.split('//')[1]}/openid/v1/jwks"
    assert config["id_token_signing_alg_values_supported"] == ["ES256"]
    status, jwks = raw_request(sa_server, "GET", "/openid/v1/jwks", token=token)
    assert status == 200 and len(jwks["keys"]) == 2  # the signing key and the retired one
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]], audience=ISSUER, issuer=ISSUER)
    assert claims["sub"] == f"system:serviceaccount:{ns}:builder"


def test_impersonation_needs_the_impersonate_verb(sa_server: APIServerProcess, token_config: Path, ns: str) -> None:
    out = sa_server.kubectl("--as=jane", "--as-group=devs", "auth", "whoami", "-o", "json").stdout
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == "jane" and info["groups"] == ["devs", "system:authenticated"]
    token = _create_token(sa_server, ns)
    refused = kubectl_with_token(token_config, token, "--as=jane", "-n", ns, "get", "configmaps")
    assert refused.returncode != 0
    assert (f'users "jane" is forbidden: User "system:serviceaccount:{ns}:builder" cannot impersonate resource '
            '"users" in API group "" at the cluster scope') in refused.stderr
    role = f"impersonate-jane-{ns}"
    sa_server.kubectl("create", "clusterrole", role, "--verb=impersonate", "--resource=users",
                      "--resource-name=jane")
    sa_server.kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}",
                      f"--serviceaccount={ns}:builder")
    deadline = time.monotonic() + 10  # the authorizer sees the binding through its watch
    while kubectl_with_token(token_config, token, "--as=jane", "auth", "whoami").returncode != 0:
        assert time.monotonic() < deadline, "impersonation still refused after the binding"
        time.sleep(0.2)
    assert whoami_as(token_config, token, "jane")["username"] == "jane"


def whoami_as(kubeconfig: Path, token: str, user: str) -> dict[str, Any]:
    result = kubectl_with_token(kubeconfig, token, f"--as={user}", "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)["status"]["userInfo"]
    return info


def test_bootstrap_token(sa_server: APIServerProcess, token_config: Path) -> None:
    token_id = uuid.uuid4().hex[:6]
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    sa_server.kubectl("-n", "kube-system", "create", "secret", "generic", f"bootstrap-token-{token_id}",
                      "--type=bootstrap.kubernetes.io/token", f"--from-literal=token-id={token_id}",
                      "--from-literal=token-secret=0123456789abcdef", f"--from-literal=expiration={expiry}",
                      "--from-literal=usage-bootstrap-authentication=true",
                      "--from-literal=auth-extra-groups=system:bootstrappers:kubeadm:default-node-token")
    info = whoami(token_config, f"{token_id}.0123456789abcdef")
    assert info["username"] == f"system:bootstrap:{token_id}"
    assert info["groups"] == ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                              "system:authenticated"]
    assert raw_request(sa_server, "GET", "/version", token=f"{token_id}.0123456789abcdee")[0] == 401


# -- a token webhook, and anonymous access turned off -----------------------------------------------------
class _Webhook(http.server.BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(review)
        status: dict[str, Any] = {"authenticated": False}
        if review["spec"]["token"] == "good-token":
            status = {"authenticated": True, "user": {"username": "webhook-user", "uid": "w-1", "groups": ["devs"]}}
        body = json.dumps({**review, "status": status}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_server(etcd_url: str, tmp_path: Path) -> Iterator[APIServerProcess]:
    cluster_pki = create_cluster_pki(tmp_path / "pki", "198.19.0.0/16")
    ca = pkilib.read_certified_key(cluster_pki.ca_cert, cluster_pki.ca_key)
    serving = pkilib.issue_serving_cert(ca, "webhook", ["localhost"], ["127.0.0.1"])
    pkilib.write_certified_key(serving, tmp_path / "webhook.crt", tmp_path / "webhook.key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "webhook.crt"), str(tmp_path / "webhook.key"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Webhook.calls = []
    config = tmp_path / "webhook.kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "webhook",
        "clusters": [{"name": "webhook", "cluster": {
            "server": f"https://127.0.0.1:{httpd.server_address[1]}/authenticate",
            "certificate-authority": str(cluster_pki.ca_cert)}}],
        "users": [{"name": "apiserver", "user": {}}],
        "contexts": [{"name": "webhook", "context": {"cluster": "webhook", "user": "apiserver"}}]}))
    try:
        server = start_apiserver(tmp_path, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry", pki=cluster_pki,
                                 extra=(f"--authentication-token-webhook-config-file={config}",
                                        "--anonymous-auth=false"))
        try:
            yield server
        finally:
            stop_apiserver(server)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_webhook_tokens_are_cached_and_anonymous_can_be_off(webhook_server: APIServerProcess,
                                                             tmp_path: Path) -> None:
    config = credential_free_kubeconfig(webhook_server, tmp_path / "token-config")
    for _ in range(2):
        info = whoami(config, "good-token")
        assert info["username"] == "webhook-user" and info["uid"] == "w-1"
        assert info["groups"] == ["devs", "system:authenticated"]
    assert [call["spec"]["token"] for call in _Webhook.calls] == ["good-token"]  # the second came from the cache
    assert _Webhook.calls[0]["apiVersion"] == "authentication.k8s.io/v1"
    assert _Webhook.calls[0]["spec"]["audiences"] == [ISSUER]
    denied = kubectl_with_token(config, "bad-token", "auth", "whoami")
    assert denied.returncode != 0 and "Unauthorized" in denied.stderr
    # --anonymous-auth=false: no credentials is 401, except the health and version endpoints.
    _, body = raw_request(webhook_server, "GET", "/api/v1/pods")
    assert_status(body, 401, "Unauthorized")
    assert raw_request(webhook_server, "GET", "/version")[0] == 200
    assert raw_request(webhook_server, "GET", "/readyz")[0] == 200
