"""Authentication: who is asking. Client certificates, bound service-account tokens (TokenRequest and
issuer discovery), bootstrap tokens, a TokenReview webhook, anonymous access and impersonation, as
kube-apiserver does them. The API server calls ``Authentication.authenticator`` first on every request;
authorization (``authz/``) then decides what that user may do."""

from kubeplane.apiserver.authn.chain import RequestAuthenticator, Unauthenticated, bearer_token
from kubeplane.apiserver.authn.config import (
    Authentication,
    AuthenticationOptions,
    build_authentication,
)
from kubeplane.apiserver.authn.discovery import IssuerDiscovery
from kubeplane.apiserver.authn.impersonation import Headers, impersonate
from kubeplane.apiserver.authn.objects import RegistryObjects
from kubeplane.apiserver.authn.token_request import TokenIssuer
from kubeplane.apiserver.authn.token_review import token_review
from kubeplane.apiserver.authn.types import (
    ANONYMOUS,
    AuthenticationError,
    ObjectReader,
    TokenAuthenticator,
    TokenResult,
)

__all__ = [
    "ANONYMOUS", "Authentication", "AuthenticationError", "AuthenticationOptions", "Headers", "IssuerDiscovery",
    "ObjectReader", "RegistryObjects", "RequestAuthenticator", "TokenAuthenticator", "TokenIssuer", "TokenResult",
    "Unauthenticated", "bearer_token", "build_authentication", "impersonate", "token_review",
]
