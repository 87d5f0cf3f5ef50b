"""Protobuf field numbers of the Kubernetes API types, keyed by OpenAPI definition name.

The schemas give every field's JSON name and type; the only wire facts they lack are the field
numbers and which Go fields are pointers. Both are data, kept here in one compact line per
definition (learned from upstream's generated.proto and types.go; the numbers are the wire
contract and never change once released):

    "name=N"    JSON field ``name`` travels as field N.
    "name=N*"   ...and its zero value is meaningful, so keep it: the Go field is a pointer (sent
                only when set, so an explicit 0 / false / "" / {} was asked for) or is a
                non-omitempty field that Go's JSON always writes.
    "@N=Type"   field N is a Go embedded struct of ``Type`` (same package) whose fields appear
                inlined in this object's JSON (e.g. ConfigMapKeySelector embeds
                LocalObjectReference, so its ``name`` sits next to ``key``).

A definition missing here, or a number missing from its line, makes the decoder refuse the
body rather than drop data.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


def _package(prefix: str, messages: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.{name}": line for name, line in messages.items()}


_META = "io.k8s.apimachinery.pkg.apis.meta.v1"

_TABLE: dict[str, str] = {
    **_package(_META, {
        "ObjectMeta": "name=1 generateName=2 namespace=3 selfLink=4 uid=5 resourceVersion=6 generation=7 "
                      "creationTimestamp=8 deletionTimestamp=9 deletionGracePeriodSeconds=10* labels=11 "
                      "annotations=12 ownerReferences=13 finalizers=14 managedFields=17",
        "ListMeta": "selfLink=1 resourceVersion=2 continue=3 remainingItemCount=4*",
        "OwnerReference": "kind=1* name=3* uid=4* apiVersion=5* controller=6* blockOwnerDeletion=7*",
        "ManagedFieldsEntry": "manager=1 operation=2 apiVersion=3 time=4 fieldsType=6 fieldsV1=7 subresource=8",
        "LabelSelector": "matchLabels=1 matchExpressions=2",
        "LabelSelectorRequirement": "key=1* operator=2* values=3",
        "Condition": "type=1* status=2* observedGeneration=3 lastTransitionTime=4 reason=5* message=6*",
        "DeleteOptions": "gracePeriodSeconds=1* preconditions=2* orphanDependents=3* propagationPolicy=4* "
                         "dryRun=5 ignoreStoreReadErrorWithClusterBreakingPotential=6*",
        "Preconditions": "uid=1* resourceVersion=2*",
        "FieldSelectorRequirement": "key=1* operator=2* values=3",
    }),
    **_package("io.k8s.api.core.v1", {
        # --- simple kinds
        "Namespace": "metadata=1 spec=2 status=3",
        "NamespaceSpec": "finalizers=1",
        "NamespaceStatus": "phase=1 conditions=2",
        "NamespaceCondition": "type=1* status=2* lastTransitionTime=4 reason=5 message=6",
        "ConfigMap": "metadata=1 data=2 binaryData=3 immutable=4*",
        "Secret": "metadata=1 data=2 type=3 stringData=4 immutable=5*",
        "ServiceAccount": "metadata=1 secrets=2 imagePullSecrets=3 automountServiceAccountToken=4*",
        "ObjectReference": "kind=1 namespace=2 name=3 uid=4 apiVersion=5 resourceVersion=6 fieldPath=7",
        "LocalObjectReference": "name=1",
        "TypedLocalObjectReference": "apiGroup=1* kind=2* name=3*",
        "TypedObjectReference": "apiGroup=1* kind=2* name=3* namespace=4*",
        "ResourceQuota": "metadata=1 spec=2 status=3",
        "ResourceQuotaSpec": "hard=1 scopes=2 scopeSelector=3*",
        "ResourceQuotaStatus": "hard=1 used=2",
        "ScopeSelector": "matchExpressions=1",
        "ScopedResourceSelectorRequirement": "scopeName=1* operator=2* values=3",
        # --- services
        "Service": "metadata=1 spec=2 status=3",
        "ServiceSpec": "ports=1 selector=2 clusterIP=3 type=4 externalIPs=5 sessionAffinity=7 loadBalancerIP=8 "
                       "loadBalancerSourceRanges=9 externalName=10 externalTrafficPolicy=11 "
                       "healthCheckNodePort=12 publishNotReadyAddresses=13 sessionAffinityConfig=14* "
                       "ipFamilyPolicy=17* clusterIPs=18 ipFamilies=19 allocateLoadBalancerNodePorts=20* "
                       "loadBalancerClass=21* internalTrafficPolicy=22* trafficDistribution=23*",
        "ServicePort": "name=1 protocol=2 port=3* targetPort=4 nodePort=5 appProtocol=6*",
        "SessionAffinityConfig": "clientIP=1*",
        "ClientIPConfig": "timeoutSeconds=1*",
        "ServiceStatus": "loadBalancer=1 conditions=2",
        "LoadBalancerStatus": "ingress=1",
        "LoadBalancerIngress": "ip=1 hostname=2 ipMode=3* ports=4",
        "PortStatus": "port=1* protocol=2* error=3*",
        # --- pods
        "Pod": "metadata=1 spec=2 status=3",
        "PodTemplate": "metadata=1 template=2",
        "PodTemplateSpec": "metadata=1 spec=2",
        "PodSpec": "volumes=1 containers=2 restartPolicy=3 terminationGracePeriodSeconds=4* "
                   "activeDeadlineSeconds=5* dnsPolicy=6 nodeSelector=7 serviceAccountName=8 serviceAccount=9 "
                   "nodeName=10 hostNetwork=11 hostPID=12 hostIPC=13 securityContext=14* imagePullSecrets=15 "
                   "hostname=16 subdomain=17 affinity=18* schedulerName=19 initContainers=20 "
                   "automountServiceAccountToken=21* tolerations=22 hostAliases=23 priorityClassName=24 "
                   "priority=25* dnsConfig=26* shareProcessNamespace=27* readinessGates=28 "
                   "runtimeClassName=29* enableServiceLinks=30* preemptionPolicy=31* overhead=32 "
                   "topologySpreadConstraints=33 setHostnameAsFQDN=35* os=36* hostUsers=37* "
                   "schedulingGates=38 resourceClaims=39 resources=40* hostnameOverride=41* workloadRef=42*",
        "Container": "name=1* image=2 command=3 args=4 workingDir=5 ports=6 env=7 resources=8 volumeMounts=9 "
                     "livenessProbe=10* readinessProbe=11* lifecycle=12* terminationMessagePath=13 "
                     "imagePullPolicy=14 securityContext=15* stdin=16 stdinOnce=17 tty=18 envFrom=19 "
                     "terminationMessagePolicy=20 volumeDevices=21 startupProbe=22* resizePolicy=23 "
                     "restartPolicy=24* restartPolicyRules=25",
        "ContainerPort": "name=1 hostPort=2 containerPort=3* protocol=4 hostIP=5",
        "ContainerResizePolicy": "resourceName=1* restartPolicy=2*",
        "ContainerRestartRule": "action=1 exitCodes=2*",
        "ContainerRestartRuleOnExitCodes": "operator=1 values=2",
        "EnvVar": "name=1* value=2 valueFrom=3*",
        "EnvVarSource": "fieldRef=1* resourceFieldRef=2* configMapKeyRef=3* secretKeyRef=4*",
        "EnvFromSource": "prefix=1 configMapRef=2* secretRef=3*",
        "ConfigMapEnvSource": "@1=LocalObjectReference optional=2*",
        "SecretEnvSource": "@1=LocalObjectReference optional=2*",
        "ConfigMapKeySelector": "@1=LocalObjectReference key=2* optional=3*",
        "SecretKeySelector": "@1=LocalObjectReference key=2* optional=3*",
        "ObjectFieldSelector": "apiVersion=1 fieldPath=2*",
        "ResourceFieldSelector": "containerName=1 resource=2* divisor=3",
        "ResourceRequirements": "limits=1 requests=2 claims=3",
        "ResourceClaim": "name=1* request=2",
        "VolumeMount": "name=1* readOnly=2 mountPath=3* subPath=4 mountPropagation=5* subPathExpr=6 "
                       "recursiveReadOnly=7*",
        "VolumeDevice": "name=1* devicePath=2*",
        "Probe": "@1=ProbeHandler initialDelaySeconds=2 timeoutSeconds=3 periodSeconds=4 successThreshold=5 "
                 "failureThreshold=6 terminationGracePeriodSeconds=7*",
        "ProbeHandler": "exec=1* httpGet=2* tcpSocket=3* grpc=4*",
        "ExecAction": "command=1",
        "HTTPGetAction": "path=1 port=2* host=3 scheme=4 httpHeaders=5",
        "HTTPHeader": "name=1* value=2*",
        "TCPSocketAction": "port=1* host=2",
        "GRPCAction": "port=1* service=2*",
        "Lifecycle": "postStart=1* preStop=2* stopSignal=3*",
        "LifecycleHandler": "exec=1* httpGet=2* tcpSocket=3* sleep=4*",
        "SleepAction": "seconds=1*",
        "SecurityContext": "capabilities=1* privileged=2* seLinuxOptions=3* runAsUser=4* runAsNonRoot=5* "
                           "readOnlyRootFilesystem=6* allowPrivilegeEscalation=7* runAsGroup=8* procMount=9* "
                           "windowsOptions=10* seccompProfile=11* appArmorProfile=12*",
        "PodSecurityContext": "seLinuxOptions=1* runAsUser=2* runAsNonRoot=3* supplementalGroups=4 fsGroup=5* "
                              "runAsGroup=6* sysctls=7 windowsOptions=8* fsGroupChangePolicy=9* "
                              "seccompProfile=10* appArmorProfile=11* supplementalGroupsPolicy=12* "
                              "seLinuxChangePolicy=13*",
        "Capabilities": "add=1 drop=2",
        "SELinuxOptions": "user=1 role=2 type=3 level=4",
        "WindowsSecurityContextOptions": "gmsaCredentialSpecName=1* gmsaCredentialSpec=2* runAsUserName=3* "
                                         "hostProcess=4*",
        "SeccompProfile": "type=1* localhostProfile=2*",
        "AppArmorProfile": "type=1* localhostProfile=2*",
        "Sysctl": "name=1* value=2*",
        "Toleration": "key=1 operator=2 value=3 effect=4 tolerationSeconds=5*",
        "HostAlias": "ip=1* hostnames=2",
        "PodDNSConfig": "nameservers=1 searches=2 options=3",
        "PodDNSConfigOption": "name=1 value=2*",
        "PodReadinessGate": "conditionType=1*",
        "PodOS": "name=1*",
        "PodSchedulingGate": "name=1*",
        "PodResourceClaim": "name=1* resourceClaimName=3* resourceClaimTemplateName=4*",
        "WorkloadReference": "name=1* podGroup=2* podGroupReplicaKey=3",
        # Statuses matter even on create: Go writes a non-pointer status struct with its zero scalars.
        "PodStatus": "phase=1 conditions=2 message=3 reason=4 hostIP=5 podIP=6 startTime=7 containerStatuses=8 "
                     "qosClass=9 initContainerStatuses=10 nominatedNodeName=11 podIPs=12 "
                     "ephemeralContainerStatuses=13 resize=14 resourceClaimStatuses=15 hostIPs=16 "
                     "observedGeneration=17 allocatedResources=19 resources=20*",
        "PodCondition": "type=1* status=2* lastProbeTime=3 lastTransitionTime=4 reason=5 message=6 "
                        "observedGeneration=7",
        "PodIP": "ip=1*",
        "HostIP": "ip=1*",
        "PodResourceClaimStatus": "name=1* resourceClaimName=2*",
        "ContainerStatus": "name=1* state=2 lastState=3 ready=4* restartCount=5* image=6* imageID=7* "
                           "containerID=8 started=9* allocatedResources=10 resources=11* volumeMounts=12 "
                           "stopSignal=15*",
        "ContainerState": "waiting=1* running=2* terminated=3*",
        "ContainerStateWaiting": "reason=1 message=2",
        "ContainerStateRunning": "startedAt=1",
        "ContainerStateTerminated": "exitCode=1* signal=2 reason=3 message=4 startedAt=5 finishedAt=6 "
                                    "containerID=7",
        "VolumeMountStatus": "name=1* mountPath=2* readOnly=3 recursiveReadOnly=4*",
        "Affinity": "nodeAffinity=1* podAffinity=2* podAntiAffinity=3*",
        "NodeAffinity": "requiredDuringSchedulingIgnoredDuringExecution=1* "
                        "preferredDuringSchedulingIgnoredDuringExecution=2",
        "NodeSelector": "nodeSelectorTerms=1*",
        "NodeSelectorTerm": "matchExpressions=1 matchFields=2",
        "NodeSelectorRequirement": "key=1* operator=2* values=3",
        "PreferredSchedulingTerm": "weight=1* preference=2*",
        "PodAffinity": "requiredDuringSchedulingIgnoredDuringExecution=1 "
                       "preferredDuringSchedulingIgnoredDuringExecution=2",
        "PodAntiAffinity": "requiredDuringSchedulingIgnoredDuringExecution=1 "
                           "preferredDuringSchedulingIgnoredDuringExecution=2",
        "PodAffinityTerm": "labelSelector=1* namespaces=2 topologyKey=3* namespaceSelector=4* "
                           "matchLabelKeys=5 mismatchLabelKeys=6",
        "WeightedPodAffinityTerm": "weight=1* podAffinityTerm=2*",
        "TopologySpreadConstraint": "maxSkew=1* topologyKey=2* whenUnsatisfiable=3* labelSelector=4* "
                                    "minDomains=5* nodeAffinityPolicy=6* nodeTaintsPolicy=7* matchLabelKeys=8",
        # --- volumes (the common sources; exotic in-tree plugins are refused)
        "Volume": "name=1* @2=VolumeSource",
        "VolumeSource": "hostPath=1* emptyDir=2* secret=6* nfs=7* persistentVolumeClaim=10* downwardAPI=16* "
                        "configMap=19* projected=26* csi=28* ephemeral=29* image=30*",
        "HostPathVolumeSource": "path=1* type=2*",
        "EmptyDirVolumeSource": "medium=1 sizeLimit=2*",
        "SecretVolumeSource": "secretName=1 items=2 defaultMode=3* optional=4*",
        "ConfigMapVolumeSource": "@1=LocalObjectReference items=2 defaultMode=3* optional=4*",
        "KeyToPath": "key=1* path=2* mode=3*",
        "NFSVolumeSource": "server=1* path=2* readOnly=3",
        "PersistentVolumeClaimVolumeSource": "claimName=1* readOnly=2",
        "DownwardAPIVolumeSource": "items=1 defaultMode=2*",
        "DownwardAPIVolumeFile": "path=1* fieldRef=2* resourceFieldRef=3* mode=4*",
        "DownwardAPIProjection": "items=1",
        "ProjectedVolumeSource": "sources=1 defaultMode=2*",
        "VolumeProjection": "secret=1* downwardAPI=2* configMap=3* serviceAccountToken=4*",
        "SecretProjection": "@1=LocalObjectReference items=2 optional=4*",
        "ConfigMapProjection": "@1=LocalObjectReference items=2 optional=4*",
        "ServiceAccountTokenProjection": "audience=1 expirationSeconds=2* path=3*",
        "CSIVolumeSource": "driver=1* readOnly=2* fsType=3* volumeAttributes=4 nodePublishSecretRef=5*",
        "ImageVolumeSource": "reference=1 pullPolicy=2",
        "EphemeralVolumeSource": "volumeClaimTemplate=1*",
        "PersistentVolumeClaimTemplate": "metadata=1 spec=2*",
        "PersistentVolumeClaimSpec": "accessModes=1 resources=2 volumeName=3 selector=4* storageClassName=5* "
                                     "volumeMode=6* dataSource=7* dataSourceRef=8* volumeAttributesClassName=9*",
        "VolumeResourceRequirements": "limits=1 requests=2",
        "PersistentVolumeClaim": "metadata=1 spec=2 status=3",
        "PersistentVolumeClaimStatus": "phase=1 accessModes=2 capacity=3 conditions=4 allocatedResources=5 "
                                       "allocatedResourceStatuses=7 currentVolumeAttributesClassName=8* "
                                       "modifyVolumeStatus=9*",
        "PersistentVolumeClaimCondition": "type=1* status=2* lastProbeTime=3 lastTransitionTime=4 reason=5 "
                                          "message=6",
        "ModifyVolumeStatus": "targetVolumeAttributesClassName=1 status=2*",
    }),
    **_package("io.k8s.api.apps.v1", {
        "Deployment": "metadata=1 spec=2 status=3",
        "DeploymentSpec": "replicas=1* selector=2* template=3 strategy=4 minReadySeconds=5 "
                          "revisionHistoryLimit=6* paused=7 progressDeadlineSeconds=9*",
        "DeploymentStrategy": "type=1 rollingUpdate=2*",
        "RollingUpdateDeployment": "maxUnavailable=1* maxSurge=2*",
        "DeploymentStatus": "observedGeneration=1 replicas=2 updatedReplicas=3 availableReplicas=4 "
                            "unavailableReplicas=5 conditions=6 readyReplicas=7 collisionCount=8* "
                            "terminatingReplicas=9*",
        "DeploymentCondition": "type=1* status=2* reason=4 message=5 lastUpdateTime=6 lastTransitionTime=7",
        "ReplicaSet": "metadata=1 spec=2 status=3",
        "ReplicaSetSpec": "replicas=1* selector=2* template=3 minReadySeconds=4",
        "ReplicaSetStatus": "replicas=1* fullyLabeledReplicas=2 observedGeneration=3 readyReplicas=4 "
                            "availableReplicas=5 conditions=6 terminatingReplicas=7*",
        "ReplicaSetCondition": "type=1* status=2* lastTransitionTime=3 reason=4 message=5",
        "DaemonSet": "metadata=1 spec=2 status=3",
        "DaemonSetSpec": "selector=1* template=2 updateStrategy=3 minReadySeconds=4 revisionHistoryLimit=6*",
        "DaemonSetUpdateStrategy": "type=1 rollingUpdate=2*",
        "RollingUpdateDaemonSet": "maxUnavailable=1* maxSurge=2*",
        "DaemonSetStatus": "currentNumberScheduled=1* numberMisscheduled=2* desiredNumberScheduled=3* "
                           "numberReady=4* observedGeneration=5 updatedNumberScheduled=6 numberAvailable=7 "
                           "numberUnavailable=8 collisionCount=9* conditions=10",
        "DaemonSetCondition": "type=1* status=2* lastTransitionTime=3 reason=4 message=5",
        "StatefulSet": "metadata=1 spec=2 status=3",
        "StatefulSetSpec": "replicas=1* selector=2* template=3 volumeClaimTemplates=4 serviceName=5 "
                           "podManagementPolicy=6 updateStrategy=7 revisionHistoryLimit=8* minReadySeconds=9 "
                           "persistentVolumeClaimRetentionPolicy=10* ordinals=11*",
        "StatefulSetUpdateStrategy": "type=1 rollingUpdate=2*",
        "RollingUpdateStatefulSetStrategy": "partition=1* maxUnavailable=2*",
        "StatefulSetPersistentVolumeClaimRetentionPolicy": "whenDeleted=1 whenScaled=2",
        "StatefulSetOrdinals": "start=1",
        "StatefulSetStatus": "observedGeneration=1 replicas=2* readyReplicas=3 currentReplicas=4 "
                             "updatedReplicas=5 currentRevision=6 updateRevision=7 collisionCount=9* "
                             "conditions=10 availableReplicas=11",
        "StatefulSetCondition": "type=1* status=2* lastTransitionTime=3 reason=4 message=5",
    }),
    **_package("io.k8s.api.batch.v1", {
        "Job": "metadata=1 spec=2 status=3",
        "JobSpec": "parallelism=1* completions=2* activeDeadlineSeconds=3* selector=4* manualSelector=5* "
                   "template=6 backoffLimit=7* ttlSecondsAfterFinished=8* completionMode=9* suspend=10* "
                   "podFailurePolicy=11* backoffLimitPerIndex=12* maxFailedIndexes=13* "
                   "podReplacementPolicy=14* managedBy=15* successPolicy=16*",
        "JobStatus": "conditions=1 startTime=2 completionTime=3 active=4 succeeded=5 failed=6 "
                     "completedIndexes=7 uncountedTerminatedPods=8* ready=9* failedIndexes=10* terminating=11*",
        "JobCondition": "type=1* status=2* lastProbeTime=3 lastTransitionTime=4 reason=5 message=6",
        "UncountedTerminatedPods": "succeeded=1 failed=2",
        "JobTemplateSpec": "metadata=1 spec=2",
        "PodFailurePolicy": "rules=1*",
        "PodFailurePolicyRule": "action=1* onExitCodes=2* onPodConditions=3",
        "PodFailurePolicyOnExitCodesRequirement": "containerName=1* operator=2* values=3*",
        "PodFailurePolicyOnPodConditionsPattern": "type=1* status=2",
        "SuccessPolicy": "rules=1*",
        "SuccessPolicyRule": "succeededIndexes=1* succeededCount=2*",
        "CronJob": "metadata=1 spec=2 status=3",
        "CronJobSpec": "schedule=1* startingDeadlineSeconds=2* concurrencyPolicy=3 suspend=4* jobTemplate=5* "
                       "successfulJobsHistoryLimit=6* failedJobsHistoryLimit=7* timeZone=8*",
        "CronJobStatus": "active=1 lastScheduleTime=4 lastSuccessfulTime=5",
    }),
    **_package("io.k8s.api.rbac.v1", {
        "Role": "metadata=1 rules=2*",
        "ClusterRole": "metadata=1 rules=2* aggregationRule=3*",
        "AggregationRule": "clusterRoleSelectors=1",
        "PolicyRule": "verbs=1* apiGroups=2 resources=3 resourceNames=4 nonResourceURLs=5",
        "RoleBinding": "metadata=1 subjects=2 roleRef=3*",
        "ClusterRoleBinding": "metadata=1 subjects=2 roleRef=3*",
        "Subject": "kind=1* apiGroup=2 name=3* namespace=4",
        "RoleRef": "apiGroup=1* kind=2* name=3*",
    }),
    **_package("io.k8s.api.scheduling.v1", {
        "PriorityClass": "metadata=1 value=2* globalDefault=3 description=4 preemptionPolicy=5*",
    }),
    **_package("io.k8s.api.policy.v1", {
        "PodDisruptionBudget": "metadata=1 spec=2 status=3",
        "PodDisruptionBudgetSpec": "minAvailable=1* selector=2* maxUnavailable=3* unhealthyPodEvictionPolicy=4*",
        "PodDisruptionBudgetStatus": "observedGeneration=1 disruptedPods=2 disruptionsAllowed=3* "
                                     "currentHealthy=4* desiredHealthy=5* expectedPods=6* conditions=7",
        "Eviction": "metadata=1 deleteOptions=2*",
    }),
    **_package("io.k8s.api.networking.v1", {
        "Ingress": "metadata=1 spec=2 status=3",
        "IngressSpec": "defaultBackend=1* tls=2 rules=3 ingressClassName=4*",
        "IngressBackend": "resource=3* service=4*",
        "IngressServiceBackend": "name=1* port=2",
        "ServiceBackendPort": "name=1 number=2",
        "IngressTLS": "hosts=1 secretName=2",
        "IngressRule": "host=1 @2=IngressRuleValue",
        "IngressRuleValue": "http=1*",
        "HTTPIngressRuleValue": "paths=1*",
        "HTTPIngressPath": "path=1 backend=2* pathType=3*",
        "IngressStatus": "loadBalancer=1",
        "IngressLoadBalancerStatus": "ingress=1",
        "IngressLoadBalancerIngress": "ip=1 hostname=2 ports=4",
        "IngressPortStatus": "port=1* protocol=2* error=3*",
    }),
    **_package("io.k8s.api.authentication.v1", {
        "TokenRequest": "metadata=1 spec=2* status=3",
        "TokenRequestSpec": "audiences=1* boundObjectRef=3* expirationSeconds=4*",
        "BoundObjectReference": "kind=1 apiVersion=2 name=3 uid=4",
        "TokenRequestStatus": "token=1* expirationTimestamp=2",
        "TokenReview": "metadata=1 spec=2* status=3",
        "TokenReviewSpec": "token=1 audiences=2",
        "TokenReviewStatus": "authenticated=1 user=2 error=3 audiences=4",
        "SelfSubjectReview": "metadata=1 status=2",
        "SelfSubjectReviewStatus": "userInfo=1",
        "UserInfo": "username=1 uid=2 groups=3 extra=4",
    }),
    **_package("io.k8s.api.authorization.v1", {
        "SelfSubjectAccessReview": "metadata=1 spec=2* status=3",
        "SelfSubjectAccessReviewSpec": "resourceAttributes=1* nonResourceAttributes=2*",
        "SubjectAccessReview": "metadata=1 spec=2* status=3",
        "LocalSubjectAccessReview": "metadata=1 spec=2* status=3",
        "SubjectAccessReviewSpec": "resourceAttributes=1* nonResourceAttributes=2* user=3 groups=4 extra=5 "
                                   "uid=6",
        "ResourceAttributes": "namespace=1 verb=2 group=3 version=4 resource=5 subresource=6 name=7 "
                              "fieldSelector=8* labelSelector=9*",
        "NonResourceAttributes": "path=1 verb=2",
        "FieldSelectorAttributes": "rawSelector=1 requirements=2",
        "LabelSelectorAttributes": "rawSelector=1 requirements=2",
        "SubjectAccessReviewStatus": "allowed=1* reason=2 evaluationError=3 denied=4",
        "SelfSubjectRulesReview": "metadata=1 spec=2* status=3",
        "SelfSubjectRulesReviewSpec": "namespace=1",
        "SubjectRulesReviewStatus": "resourceRules=1* nonResourceRules=2* incomplete=3* evaluationError=4",
        "ResourceRule": "verbs=1* apiGroups=2 resources=3 resourceNames=4",
        "NonResourceRule": "verbs=1* nonResourceURLs=2",
    }),
    **_package("io.k8s.api.certificates.v1", {
        "CertificateSigningRequest": "metadata=1 spec=2* status=3",
        "CertificateSigningRequestSpec": "request=1* username=2 uid=3 groups=4 usages=5 extra=6 signerName=7* "
                                         "expirationSeconds=8*",
        "CertificateSigningRequestStatus": "conditions=1 certificate=2",
        "CertificateSigningRequestCondition": "type=1* reason=2 message=3 lastUpdateTime=4 "
                                              "lastTransitionTime=5 status=6*",
    }),
}


@dataclass(frozen=True)
class FieldNumber:
    """What one field number of a message means."""

    name: str  # JSON name; for an embedded struct, the embedded definition's name
    keeps_zero: bool = False
    embedded: bool = False  # the value's fields are inlined into the enclosing JSON object


@functools.cache
def numbers_for(definition: str) -> dict[int, FieldNumber] | None:
    """Field numbers of ``definition`` (``io.k8s.api.core.v1.PodSpec``), or None if not tabled."""
    line = _TABLE.get(definition)
    if line is None:
        return None
    package = definition.rsplit(".", 1)[0]
    numbers: dict[int, FieldNumber] = {}
    for token in line.split():
        name, _, number = token.partition("=")
        if name.startswith("@"):
            numbers[int(name[1:])] = FieldNumber(f"{package}.{number}", embedded=True)
            continue
        keeps_zero = number.endswith("*")
        numbers[int(number.rstrip("*"))] = FieldNumber(name, keeps_zero=keeps_zero)
    return numbers


def tabled_definitions() -> frozenset[str]:
    return frozenset(_TABLE)
