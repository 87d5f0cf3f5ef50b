"""Dynamic admission: MutatingWebhookConfiguration and ValidatingWebhookConfiguration
(admissionregistration.k8s.io/v1), called with AdmissionReview v1 over HTTPS."""

from kubeplane.apiserver.admission.webhook.plugin import MutatingAdmissionWebhook, ValidatingAdmissionWebhook

__all__ = ["MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"]
