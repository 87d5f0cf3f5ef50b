"""Making sure a container's image is on the node, as upstream's image manager decides it.

``Never`` uses only what is present; ``IfNotPresent`` pulls only when absent; ``Always`` always
asks the registry. Failed pulls back off per image and pod: the first failure reports
``ErrImagePull``, failures while backing off ``ImagePullBackOff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeplane.kubelet.backoff import Backoff
from kubeplane.kubelet.cri import CRIClient, CRIError

JSON = dict[str, Any]

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"


def grpc_error_text(error: CRIError) -> str:
    """The error as a Go gRPC client prints it, which is what upstream's status messages show."""
    code = "".join(part.capitalize() for part in error.code.name.split("_"))
    return f"rpc error: code = {code} desc = {error.details}"


def default_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" and "@" not in image else "IfNotPresent"


def pull_policy(container: JSON) -> str:
    return str(container.get("imagePullPolicy") or default_pull_policy(str(container.get("image") or "")))


def should_pull(policy: str, present: bool) -> bool:
    return policy == "Always" or (policy == "IfNotPresent" and not present)


@dataclass(frozen=True)
class PullResult:
    image_ref: str = ""  # set when the image is ready to use
    reason: str = ""  # else the waiting reason and message
    message: str = ""
    pulled: bool = False


class ImageManager:
    def __init__(self, cri: CRIClient, backoff: Backoff) -> None:
        self.cri = cri
        self.backoff = backoff

    async def ensure(self, container: JSON, pod_uid: str) -> PullResult:
        image = str(container.get("image") or "")
        if not image:
            return PullResult(reason=INVALID_IMAGE_NAME, message="Failed to apply default image tag: empty image")
        policy = pull_policy(container)
        present = await self.cri.image_status(image)
        if not should_pull(policy, present is not None):
            if present is not None:
                return PullResult(image_ref=present.id)
            return PullResult(reason=ERR_IMAGE_NEVER_PULL,
                              message=f'Container image "{image}" is not present with pull policy of Never')
        key = f"{pod_uid}/{image}"
        if self.backoff.in_backoff_since_update(key):
            return PullResult(reason=IMAGE_PULL_BACKOFF, message=f'Back-off pulling image "{image}"')
        try:
            image_ref = await self.cri.pull_image(image)
        except CRIError as error:
            self.backoff.next(key)
            return PullResult(reason=ERR_IMAGE_PULL, message=grpc_error_text(error))
        return PullResult(image_ref=image_ref, pulled=True)
