"""The two places where the demo reaches into the emulator's state, because moto has no API for them.

moto creates instances InService (and sets an ECS service's running count to its desired count) at
once, so without this the metric publisher would count capacity that in AWS would still be booting,
and target tracking would see a fleet that consumes before it does. The demo therefore keeps
booting instances ``Pending`` (the lifecycle state AWS reports while an instance launches) and the
service's ``runningCount`` at the number of tasks whose worker has started.

This needs the moto server to run in this process (``ThreadedMotoServer``), which it does.
moto's own ``set_desired_capacity`` counts only InService instances, so every call that makes the
group reconcile goes through :meth:`Ec2Lifecycle.reconciling`, which shows it the whole group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from moto.autoscaling.models import autoscaling_backends
from moto.ecs.models import ecs_backends

from qas.emulator import ACCOUNT_ID, REGION


class Ec2Lifecycle:
    """Booting instances of one Auto Scaling group are Pending until their worker starts."""

    def __init__(self, group_name: str) -> None:
        self._group_name = group_name
        self.booting: set[str] = set()

    def _group(self) -> Any:
        return autoscaling_backends[ACCOUNT_ID][REGION].autoscaling_groups[self._group_name]

    def _set_states(self) -> None:
        for state in self._group().instance_states:
            if state.instance.id in self.booting:
                state.lifecycle_state = "Pending"
            elif state.lifecycle_state == "Pending":
                state.lifecycle_state = "InService"

    @contextlib.contextmanager
    def reconciling(self) -> Iterator[None]:
        """Around an API call that makes moto reconcile the group: show it every instance."""
        for state in self._group().instance_states:
            if state.lifecycle_state == "Pending":
                state.lifecycle_state = "InService"
        try:
            yield
        finally:
            present = {state.instance.id for state in self._group().instance_states}
            self.booting &= present
            self._set_states()

    def launched(self, instance_ids: list[str]) -> None:
        self.booting.update(instance_ids)
        self._set_states()

    def in_service(self, instance_id: str) -> None:
        self.booting.discard(instance_id)
        self._set_states()


class EcsRunningCount:
    """The service's runningCount is the number of tasks whose worker has started."""

    def __init__(self, cluster: str, service: str) -> None:
        self._key = f"{cluster}:{service}"

    def set(self, running: int) -> None:
        service = ecs_backends[ACCOUNT_ID][REGION].services[self._key]
        service.running_count = running
        service.pending_count = max(0, service.desired_count - running)
