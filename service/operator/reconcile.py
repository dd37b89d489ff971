"""What the handlers do, as plain methods over explicit collaborators (Evolution, the sender
registry, Kubernetes), so that handlers.py stays one line per kopf handler.

    setup     create (or adopt) the Evolution instance, set its webhook, register the sender
              paused, then observe: the resource's create handler, and its update handler
              while a setup never completed (a spec fixed after a permanent error)
    observe   read the session's state, move the phase, refresh the QR code, sync the sender,
              count today's sends: the timer; on resume (operator start) it sets the webhook
              again first, so a changed URL or token reaches every instance
    changed   refuse changed immutable fields, else apply the spec to the sender at once
    removed   pause the sender, wait for its in-flight sends, remove it, and delete the
              Evolution instance only when deleteInstanceOnRemoval
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import kopf
from pydantic import SecretStr

from service.evolution.admin import BUSINESS, EvolutionAdmin, NewInstance, webhook_config
from service.evolution.errors import EvolutionInstanceNotFound, EvolutionUnexpectedResponse
from service.operator.kube import KubeClient
from service.operator.observe import Observer, instance_token, qr_keys
from service.operator.outcomes import SpecProblem, reported
from service.operator.resource import InstanceSpec, Resource
from service.operator.status import StatusWriter
from service.senders.registry import SenderRegistry
from service.settings import Settings

# Fields fixed at creation: the Evolution instance, where it lives, and what kind it is. Changing
# them would orphan the WhatsApp session; the CRD refuses it (CEL) and so does the operator.
_IMMUTABLE = {
    "instanceName": "spec.instanceName",
    "evolutionURL": "spec.evolution (url or service)",
    "integration": "spec.integration",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a resource's instance lives and the key that manages it."""

    instance: str
    base_url: str
    api_key: SecretStr


class Reconciler:
    def __init__(self, settings: Settings, registry: SenderRegistry, kube: KubeClient) -> None:
        self.settings = settings
        self.registry = registry
        self.kube = kube
        self._retry = settings.operator.retry_delay_seconds

    # -- handler entry points -----------------------------------------------------------------

    async def setup(self, resource: Resource, patch: kopf.Patch) -> None:
        writer = StatusWriter(resource, patch)
        async with reported(writer, self._retry):
            spec = resource.spec()
            target = await self._target(resource, spec)
            async with self._admin(target) as admin:
                token = await self._instance(admin, resource, target, spec)
                await admin.set_webhook(target.instance, self._webhook())
                writer.set(
                    instanceName=target.instance,
                    evolutionURL=target.base_url,
                    integration=spec.integration,
                )
                await self._observer(admin, resource, spec, target, writer).run(token)
            writer.synced()

    async def observe(
        self, resource: Resource, patch: kopf.Patch, *, webhook: bool = False
    ) -> None:
        """``webhook``: set the instance's webhook again first (the operator restarted: its URL
        or token may have changed)."""
        if not resource.status.get("evolutionURL"):
            return  # setup has not completed: the create handler is (re)trying it
        writer = StatusWriter(resource, patch)
        async with reported(writer, self._retry):
            spec = resource.spec()
            self._check_immutable(resource, spec)
            target = await self._target(resource, spec)
            async with self._admin(target) as admin:
                if webhook:
                    await admin.set_webhook(target.instance, self._webhook())
                await self._observer(admin, resource, spec, target, writer).run()
            writer.synced()

    async def changed(self, resource: Resource, patch: kopf.Patch) -> None:
        """The spec changed: before setup completed, retry it; after, apply it now (the same
        work as a timer tick, which also refuses a changed immutable field)."""
        if not resource.status.get("evolutionURL"):
            await self.setup(resource, patch)
        else:
            await self.observe(resource, patch)

    async def removed(self, resource: Resource, logger: kopf.Logger) -> None:
        writer = StatusWriter(resource, kopf.Patch())
        async with reported(writer, self._retry):
            name = resource.instance
            if await self.registry.get(name) is not None:
                await self.registry.set_paused(name, True)
                busy = await self.registry.in_flight(name)
                if busy:
                    raise kopf.TemporaryError(
                        f"{busy} sends in flight", delay=self.settings.operator.drain_poll_seconds
                    )
                await self.registry.delete(name)
            # Only an instance that setup created or adopted (its endpoint is in the status).
            if resource.raw_spec.get("deleteInstanceOnRemoval") and resource.status.get(
                "evolutionURL"
            ):
                await self._delete_instance(resource)
            await self.kube.put_secret_keys(
                resource.namespace, self.settings.operator.qr_secret_name, qr_keys(resource)
            )
        logger.info("sender %s removed", name)

    # -- steps ----------------------------------------------------------------------------------

    def _observer(
        self,
        admin: EvolutionAdmin,
        resource: Resource,
        spec: InstanceSpec,
        target: Target,
        writer: StatusWriter,
    ) -> Observer:
        return Observer(
            admin=admin,
            registry=self.registry,
            kube=self.kube,
            qr_secret=self.settings.operator.qr_secret_name,
            resource=resource,
            spec=spec,
            instance=target.instance,
            base_url=target.base_url,
            writer=writer,
        )

    def _webhook(self) -> dict[str, Any]:
        return webhook_config(
            self.settings.operator.webhook_url, self.settings.evolution.webhook_token
        )

    def _admin(self, target: Target) -> EvolutionAdmin:
        return EvolutionAdmin(target.base_url, target.api_key, settings=self.settings.evolution)

    async def _target(self, resource: Resource, spec: InstanceSpec) -> Target:
        ref = spec.evolution.api_key_secret_ref
        if ref is None:
            key = self.settings.evolution.api_key
        else:
            key = SecretStr(await self.kube.secret_value(resource.namespace, ref.name, ref.key))
        base_url = resource.status.get("evolutionURL") or spec.evolution.base_url(
            resource.namespace
        )
        return Target(resource.instance, base_url, key)

    async def _instance(
        self, admin: EvolutionAdmin, resource: Resource, target: Target, spec: InstanceSpec
    ) -> SecretStr:
        """Create the instance, or adopt one of that name (a restart between create and the
        status write, or a number already paired by hand); its own key."""
        new = NewInstance(target.instance)
        if spec.integration == BUSINESS and spec.business is not None:
            ref = spec.business.access_token_secret_ref
            meta_token = await self.kube.secret_value(resource.namespace, ref.name, ref.key)
            new = NewInstance(
                target.instance,
                BUSINESS,
                SecretStr(meta_token),
                number=spec.business.phone_number_id,
                business_id=spec.business.business_id,
            )
        try:
            created = await admin.create_instance(new)
        except EvolutionUnexpectedResponse as exc:
            if exc.status_code != 403:  # 403: the name is in use
                raise
            return await instance_token(admin, target.instance)
        return SecretStr(str(created.get("hash") or ""))

    def _check_immutable(self, resource: Resource, spec: InstanceSpec) -> None:
        wanted = {
            "instanceName": spec.instance_name or resource.name,
            "evolutionURL": spec.evolution.base_url(resource.namespace),
            "integration": spec.integration,
        }
        for key, field in _IMMUTABLE.items():
            recorded = resource.status.get(key)
            if recorded is not None and recorded != wanted[key]:
                raise SpecProblem(
                    "ImmutableField",
                    f"{field} cannot change after creation (it is {recorded!r}): "
                    "set it back, or create a new resource",
                )

    async def _delete_instance(self, resource: Resource) -> None:
        spec = resource.spec()
        target = await self._target(resource, spec)
        async with self._admin(target) as admin:
            with contextlib.suppress(EvolutionInstanceNotFound):  # already gone
                await admin.delete_instance(target.instance)
