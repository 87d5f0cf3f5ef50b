"""The token cleaner (upstream ``tokencleaner``): deletes bootstrap token Secrets once their
``expiration`` has passed, and looks again at each live token when it is due to expire."""

from __future__ import annotations

import logging

from kubeplane.client import NotFound
from kubeplane.controllers.bootstrap.tokens import SECRETS, TOKEN_SECRETS_SELECTOR, is_token_secret, time_left
from kubeplane.controllers.controller import ControllerContext, ResourceController

log = logging.getLogger(__name__)


class TokenCleanerController(ResourceController):
    name = "token-cleaner-controller"
    component = "tokencleaner"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.secrets = self.informer(SECRETS, self.enqueue_handlers(), field_selector=TOKEN_SECRETS_SELECTOR)

    async def sync(self, key: str) -> None:
        secret = self.secrets.get(key)
        if secret is None or not is_token_secret(secret) or secret["metadata"].get("deletionTimestamp"):
            return
        left = time_left(secret, self.clock.wall())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        metadata = secret["metadata"]
        log.info("deleting expired bootstrap token secret %s", key)
        try:
            # The uid precondition keeps a token re-created under the same name (a new token) safe.
            await self.client.delete(SECRETS, metadata["name"], metadata["namespace"],
                                     preconditions={"uid": metadata["uid"]})
        except NotFound:
            pass
