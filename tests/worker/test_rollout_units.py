"""The ECS rollout watch: what "in force" means, how often the fleet asks, retire and reinstate."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.stub import Stubber

from qas.emulator.metadata_stubs import EcsAgentStub
from worker.protection import EcsTaskProtection, ProtectionState
from worker.rollout_watch import (
    FLEET_CHECKS_PER_SECOND,
    Deployment,
    EcsServiceVersion,
    RolloutWatch,
    ServiceState,
    Standing,
    check_interval,
    fleet_checks_per_second,
    standing,
    task_definition_key,
)
from worker.settings import Settings, SettingsError

V1 = "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:1"
V2 = "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:2"


def _service(*deployments: Deployment, running: int = 2) -> ServiceState:
    return ServiceState(deployments=deployments, running_count=running)


def test_task_definition_key_is_family_and_revision() -> None:
    assert task_definition_key(V2) == "worker:2"
    assert task_definition_key("worker:2") == "worker:2"


@pytest.mark.parametrize(
    ("deployments", "expected"),
    [
        # steady state: only this version
        ((Deployment("PRIMARY", V1, 4, "COMPLETED"),), Standing.CURRENT),
        # a rollout to v2 has started, no v2 task runs yet (pulling, or failing to start)
        (
            (Deployment("PRIMARY", V2, 0, "IN_PROGRESS"), Deployment("ACTIVE", V1, 4, "COMPLETED")),
            Standing.PENDING,
        ),
        # v2 runs: v1 is no longer in force, even half-way through the rollout
        (
            (Deployment("PRIMARY", V2, 1, "IN_PROGRESS"), Deployment("ACTIVE", V1, 4, "COMPLETED")),
            Standing.OUTDATED,
        ),
        # the circuit breaker failed v2 and has not yet rolled back: v1 keeps working
        (
            (Deployment("PRIMARY", V2, 1, "FAILED"), Deployment("ACTIVE", V1, 4, "COMPLETED")),
            Standing.PENDING,
        ),
        # the rollback is a new PRIMARY deployment of v1: current again
        (
            (Deployment("PRIMARY", V1, 1, "IN_PROGRESS"), Deployment("ACTIVE", V2, 1, "FAILED")),
            Standing.CURRENT,
        ),
        # a third version deployed over a half-finished rollout: v1 (and v2) are outdated once v3 runs
        (
            (
                Deployment("PRIMARY", V2.replace(":2", ":3"), 2, "IN_PROGRESS"),
                Deployment("ACTIVE", V2, 1, "IN_PROGRESS"),
                Deployment("ACTIVE", V1, 3, "COMPLETED"),
            ),
            Standing.OUTDATED,
        ),
        # no deployment information (another deployment controller): never retire on doubt
        ((), Standing.CURRENT),
    ],
)
def test_what_in_force_means(deployments: tuple[Deployment, ...], expected: Standing) -> None:
    assert standing("worker:1", _service(*deployments)).standing is expected


def test_the_fleet_stays_within_its_call_budget_at_any_size() -> None:
    # Small fleets check every base interval; from 120 tasks on the interval grows with the fleet.
    assert check_interval(60, 10) == 60
    assert check_interval(60, 1_000) == 500
    assert fleet_checks_per_second(10, 60) == pytest.approx(10 / 60)
    for workers in (100, 1_000, 5_000):
        assert fleet_checks_per_second(workers, 60) <= FLEET_CHECKS_PER_SECOND
    assert fleet_checks_per_second(1_000, 60) == FLEET_CHECKS_PER_SECOND


@dataclass
class FakeVersion:
    mine_is: str = "worker:1"
    states: list[ServiceState | Exception] = field(default_factory=list)

    def mine(self) -> str:
        return self.mine_is

    def service(self) -> ServiceState:
        state = self.states.pop(0)
        if isinstance(state, Exception):
            raise state
        return state


@dataclass
class FakeRetiree:
    calls: list[str] = field(default_factory=list)

    def retire(self, reason: str) -> None:
        self.calls.append("retire")

    def reinstate(self, reason: str) -> None:
        self.calls.append("reinstate")


def test_a_rollout_retires_once_and_a_rollback_reinstates() -> None:
    v2_runs = _service(Deployment("PRIMARY", V2, 1, "IN_PROGRESS"), Deployment("ACTIVE", V1, 1, "COMPLETED"))
    rolled_back = _service(Deployment("PRIMARY", V1, 1, "IN_PROGRESS"), Deployment("ACTIVE", V2, 0, "FAILED"))
    version = FakeVersion(states=[v2_runs, v2_runs, RuntimeError("Rate exceeded"), rolled_back, rolled_back])
    retiree = FakeRetiree()
    watch = RolloutWatch(version, retiree, base_seconds=60, rng=random.Random(1))
    verdicts = [watch.check() for _ in range(5)]
    assert [v.standing if v else None for v in verdicts] == [
        Standing.OUTDATED,
        Standing.OUTDATED,
        None,  # a failed check changes nothing
        Standing.CURRENT,
        Standing.CURRENT,
    ]
    assert retiree.calls == ["retire", "reinstate"]


def test_checks_are_jittered_and_back_off_after_failures() -> None:
    version = FakeVersion(
        states=[RuntimeError("throttled"), RuntimeError("throttled"), _service(running=1_000)]
    )
    watch = RolloutWatch(version, FakeRetiree(), base_seconds=60, rng=random.Random(7))
    delays = [watch.next_delay() for _ in range(200)]
    assert 30 <= min(delays) < max(delays) <= 90
    watch.check()
    watch.check()
    assert all(120 <= watch.next_delay() <= 360 for _ in range(50))  # two failures: four times
    watch.check()  # success: the interval follows the fleet's size, the backoff is over
    assert all(250 <= watch.next_delay() <= 750 for _ in range(50))


def test_ecs_version_reads_the_task_once_and_the_service_each_time() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    described = {
        "services": [
            {
                "runningCount": 3,
                "deployments": [
                    {
                        "status": "PRIMARY",
                        "taskDefinition": V2,
                        "runningCount": 1,
                        "rolloutState": "IN_PROGRESS",
                    },
                    {
                        "status": "ACTIVE",
                        "taskDefinition": V1,
                        "runningCount": 2,
                        "rolloutState": "COMPLETED",
                    },
                ],
            }
        ]
    }
    with EcsAgentStub(cluster="workers", family="worker", revision=1) as agent, Stubber(ecs) as stub:
        for _ in range(2):
            stub.add_response("describe_services", described, {"cluster": "workers", "services": ["fleet"]})
        version = EcsServiceVersion(agent.metadata_uri, ecs, "fleet")
        assert version.mine() == "worker:1"
        first, second = version.service(), version.service()
        stub.assert_no_pending_responses()
    assert (
        first
        == second
        == ServiceState(
            (Deployment("PRIMARY", V2, 1, "IN_PROGRESS"), Deployment("ACTIVE", V1, 2, "COMPLETED")), 3
        )
    )
    assert agent.metadata_reads == 1


def test_a_retired_worker_never_renews_protection_and_lets_it_go_when_idle() -> None:
    with EcsAgentStub() as agent:
        state = ProtectionState(EcsTaskProtection(agent.url, expires_minutes=1))
        state.busy()
        state.retire()
        state._set_at -= 3600  # long past the renewal point: a busy worker would renew now
        state.busy()
        assert [change.enabled for change in agent.changes] == [True]
        state.idle()
        state.busy()  # a retired worker takes no new protection either
        assert [change.enabled for change in agent.changes] == [True, False]
        state.reinstate()
        state.busy()
        assert [change.enabled for change in agent.changes] == [True, False, True]


def test_rollout_settings() -> None:
    base = {"QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"}
    defaults = Settings.from_env(base)
    assert (defaults.rollout_check_seconds, defaults.ecs_metadata_uri) == (60.0, "")
    custom = Settings.from_env(
        {
            **base,
            "WORKER_ROLLOUT_CHECK_SECONDS": "0",
            "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc/",
        }
    )
    assert (custom.rollout_check_seconds, custom.ecs_metadata_uri) == (0.0, "http://169.254.170.2/v4/abc")
    with pytest.raises(SettingsError, match="ECS_CONTAINER_METADATA_URI_V4"):
        Settings.from_env({**base, "ECS_CONTAINER_METADATA_URI_V4": "169.254.170.2/v4"})
    with pytest.raises(SettingsError, match="WORKER_ROLLOUT_CHECK_SECONDS"):
        Settings.from_env({**base, "WORKER_ROLLOUT_CHECK_SECONDS": "-1"})
