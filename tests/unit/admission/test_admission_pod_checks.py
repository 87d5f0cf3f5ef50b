"""Pure plugin logic: Pod Security Standards, LimitRanger constraints, quota usage and messages,
quantity printing, NodeRestriction labels, webhook rule matching and the Node authorizer graph."""

from __future__ import annotations

from fractions import Fraction

from kubeplane.apiserver.admission.attributes import Attributes, User
from kubeplane.apiserver.admission.limit_ranger import check, pod_totals
from kubeplane.apiserver.admission.node_restriction import kubelet_may_set_label, node_name
from kubeplane.apiserver.admission.pod_security_checks import describe, evaluate
from kubeplane.apiserver.admission.quantity import fmt, resource_list
from kubeplane.apiserver.admission.quota_usage import matches_scopes, missing_compute, usage
from kubeplane.apiserver.admission.webhook.matching import resource_matches, rules_match
from kubeplane.apiserver.authz import Attributes as AuthzAttributes
from kubeplane.apiserver.authz import NodeAuthorizer, NodeGraph, UserInfo, bootstrap_policy, node_rules
from kubeplane.catalog import Catalog


def test_restricted_findings_read_like_upstream() -> None:
    spec = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}
    assert describe(evaluate("restricted", {}, spec)) == (
        'privileged (container "c" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')
    compliant = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "c", "image": "i", "securityContext": {
                     "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
                 "volumes": [{"name": "t", "projected": {"sources": []}}]}
    assert evaluate("restricted", {}, compliant) == []
    host = {"hostNetwork": True, "containers": [{"name": "a", "image": "i", "ports": [{"hostPort": 80}]}],
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
    assert describe(evaluate("baseline", {}, host)) == (
        'host namespaces (hostNetwork=true), hostPath volumes (volume "root"), hostPort (container "a" uses hostPort 80)')
    assert evaluate("privileged", {}, host) == []


def test_limit_range_constraints() -> None:
    item = {"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"},
            "maxLimitRequestRatio": {"cpu": "2"}}
    assert check(item, "Container", {"cpu": "50m"}, {"cpu": "400m", "memory": "2Gi"}) == [
        "minimum cpu usage per Container is 100m, but request is 50m",
        "maximum memory usage per Container is 1Gi, but limit is 2Gi",
        "cpu max limit to request ratio per Container is 2, but provided ratio is 8.000000"]
    assert check(item, "Container", {"cpu": "200m"}, {"cpu": "400m", "memory": "1Gi"}) == []
    requests, limits = pod_totals({"containers": [{"resources": {"requests": {"cpu": "100m"}}},
                                                  {"resources": {"requests": {"cpu": "300m"}}}],
                                   "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]})
    assert requests == {"cpu": "1"} and limits == {}


def test_quota_usage_and_messages() -> None:
    pod = {"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                                                "limits": {"cpu": "1"}}},
                                   {"name": "b", "resources": {"requests": {"cpu": "250m"}}}]}}
    used = usage("", "pods", pod)
    assert used["pods"] == 1 and used["count/pods"] == 1
    assert used["requests.cpu"] == used["cpu"] == Fraction(1, 2)
    assert used["limits.cpu"] == 1 and used["requests.memory"] == 64 * 2**20
    assert usage("", "pods", {"status": {"phase": "Succeeded"}}) == {}
    assert usage("apps", "deployments", {}) == {"count/deployments.apps": 1}
    service = usage("", "services", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}})
    assert service["services.loadbalancers"] == 1 and service["services.nodeports"] == 2
    assert missing_compute(pod["spec"], {"limits.cpu": "2", "requests.memory": "1Gi"}) == {
        "limits.cpu": ["b"], "requests.memory": ["b"]}
    assert fmt(Fraction(1, 2)) == "500m" and fmt(Fraction(2**30), binary=True) == "1Gi" and fmt(Fraction(5)) == "5"
    assert resource_list({"pods": Fraction(1), "limits.cpu": Fraction(3, 2)}) == "limits.cpu=1500m,pods=1"
    best_effort = {"spec": {"containers": [{"name": "a"}]}}
    assert matches_scopes({"spec": {"scopes": ["BestEffort"]}}, best_effort)
    assert not matches_scopes({"spec": {"scopes": ["NotBestEffort"]}}, best_effort)
    assert not matches_scopes({"spec": {"scopes": ["BestEffort"]}}, None)


def test_node_identity_and_labels() -> None:
    assert node_name("system:node:n1", ("system:nodes",)) == "n1"
    assert node_name("system:node:n1", ()) == ""
    assert kubelet_may_set_label("topology.kubernetes.io/zone")
    assert kubelet_may_set_label("node.kubernetes.io/exclude-from-external-load-balancers")
    assert kubelet_may_set_label("example.com/team")
    assert not kubelet_may_set_label("node-restriction.kubernetes.io/pool")
    assert not kubelet_may_set_label("node-role.kubernetes.io/master")


def _attrs(resource: str, operation: str = "CREATE", subresource: str = "") -> Attributes:
    catalog = Catalog.for_version("1.31")
    info = next(i for i in catalog.resources if i.group == "" and i.resource == resource)
    return Attributes(operation, info, "ns", "x", {}, None, User("u"), subresource=subresource)


def test_webhook_rule_matching() -> None:
    assert resource_matches(["pods"], "pods", "")
    assert not resource_matches(["pods"], "pods", "status")
    assert resource_matches(["pods/*"], "pods", "status") and not resource_matches(["pods/*"], "pods", "")
    assert resource_matches(["*/status"], "services", "status")
    assert resource_matches(["*/*"], "pods", "") and resource_matches(["*"], "configmaps", "")
    hook = {"rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                       "scope": "Namespaced"}]}
    assert rules_match(hook, _attrs("pods"))
    assert not rules_match(hook, _attrs("pods", "DELETE"))
    assert not rules_match(hook, _attrs("configmaps"))
    exact = {**hook, "matchPolicy": "Exact", "rules": [{**hook["rules"][0], "apiVersions": ["v2"]}]}
    assert not rules_match(exact, _attrs("pods"))
    assert rules_match({**exact, "matchPolicy": "Equivalent"}, _attrs("pods"))


def test_node_authorizer_follows_the_pod_graph() -> None:
    graph = NodeGraph()
    graph.put_pod({"metadata": {"namespace": "ns", "name": "p"},
                   "spec": {"nodeName": "n1", "serviceAccountName": "sa",
                            "volumes": [{"name": "v", "secret": {"secretName": "s"}}],
                            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}]}})
    authorizer = NodeAuthorizer(graph, node_rules(bootstrap_policy("1.31")))
    n1, n2 = UserInfo("system:node:n1", ("system:nodes",)), UserInfo("system:node:n2", ("system:nodes",))

    def decide(user: UserInfo, verb: str, resource: str, name: str, subresource: str = "") -> bool:
        return authorizer.authorize(AuthzAttributes(user=user, verb=verb, namespace="ns", resource=resource,
                                                    subresource=subresource, name=name)).allowed

    assert decide(n1, "get", "secrets", "s") and decide(n1, "get", "configmaps", "cm")
    assert decide(n1, "create", "serviceaccounts", "sa", "token")
    assert not decide(n2, "get", "secrets", "s")
    assert decide(n2, "get", "pods", "anything")  # from the static node rules
    graph.delete_pod("ns", "p")
    assert not decide(n1, "get", "secrets", "s")
    assert not authorizer.authorize(AuthzAttributes(user=UserInfo("alice"), verb="get", resource="secrets",
                                                    namespace="ns", name="s")).allowed
