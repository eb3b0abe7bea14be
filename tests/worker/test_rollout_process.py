"""Rollouts under a steady backlog, with real worker processes on the moto server.

ECS: a deployment never stops a task that has scale-in protection, and a busy worker renews its
protection for as long as it holds work. Under a steady backlog an old task is never idle, so
without the rollout watch the deployment waits forever. moto keeps a service's single deployment
and never moves it to the new task definition, so the test sets what DescribeServices reports
during a rolling update (`EcsDeployments`), and plays ECS's part: it stops an old task once its
protection is off.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import boto3
import pytest
from moto.core.utils import utcnow
from moto.ecs.models import ecs_backends

from qas.emulator.metadata_stubs import EcsAgentStub, ImdsStub
from queue_autoscaler.scaling.rollout import PREFERENCES
from tests.worker.aws_proxy import AwsProxy
from tests.worker.conftest import NO_RETRY, REGION, Aws, WorkerProcess, job, wait_until
from worker.termination import TERMINATING_EXIT_CODE

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"  # moto's default account
CLUSTER = "workers"
SERVICE = "fleet"
JOBS = 400  # about 2 minutes of work for the two workers: the backlog outlasts the rollout


class EcsDeployments:
    """What DescribeServices reports for the service: its deployments, newest (PRIMARY) first."""

    def __init__(self, cluster: str, service: str) -> None:
        self._key = f"{cluster}:{service}"

    def set(self, *deployments: tuple[str, str, int, str]) -> None:
        """(status, task definition ARN, running tasks, rollout state) for each deployment."""
        service = ecs_backends[ACCOUNT][REGION].services[self._key]
        service.deployments = [
            {
                "id": f"ecs-svc/{index}",
                "status": status,
                "taskDefinition": task_definition,
                "desiredCount": 1,
                "pendingCount": 0,
                "runningCount": running,
                "failedTasks": 0,
                "rolloutState": rollout_state,
                "createdAt": utcnow(),
                "updatedAt": utcnow(),
                "launchType": "FARGATE",
            }
            for index, (status, task_definition, running, rollout_state) in enumerate(deployments)
        ]
        service.running_count = sum(running for _, _, running, _ in deployments)


def _register(ecs: Any, family: str) -> str:
    container = [{"name": "worker", "image": "queue-worker", "memory": 512}]
    return str(
        ecs.register_task_definition(family=family, containerDefinitions=container)["taskDefinition"][
            "taskDefinitionArn"
        ]
    )


def _ecs_worker(start_worker: Any, queue_url: str, agent: EcsAgentStub) -> WorkerProcess:
    worker: WorkerProcess = start_worker(
        queue_url,
        WORKER_PLATFORM="ECS",
        FLEET_NAME=SERVICE,
        ECS_AGENT_URI=agent.url,
        ECS_CONTAINER_METADATA_URI_V4=agent.metadata_uri,
        WORKER_ROLLOUT_CHECK_SECONDS="0.2",
        WORKER_VISIBILITY_TIMEOUT="30",
        WORKER_SHUTDOWN_GRACE_SECONDS="20",
    )
    return worker


def _job_ids(worker: WorkerProcess) -> list[str]:
    return [line["job_id"] for line in worker.outcomes("processed")]


def test_an_ecs_deployment_replaces_a_busy_task_under_a_steady_backlog(aws: Aws, start_worker):
    # Given a service on task definition revision 1 and one busy task under a steady backlog
    ecs = boto3.client("ecs", endpoint_url=aws.url, region_name=REGION, config=NO_RETRY)
    ecs.create_cluster(clusterName=CLUSTER)
    v1 = _register(ecs, "worker")
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=v1, desiredCount=1)
    deployments = EcsDeployments(CLUSTER, SERVICE)
    deployments.set(("PRIMARY", v1, 1, "COMPLETED"))
    queue_url, _ = aws.queue(visibility=30)
    sent = [f"job-{i}" for i in range(JOBS)]
    aws.send(queue_url, [job(job_id, 0.3) for job_id in sent])
    with (
        EcsAgentStub(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/old", cluster=CLUSTER) as old_agent,
        EcsAgentStub(
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/new", cluster=CLUSTER, revision=2
        ) as new_agent,
    ):
        old = _ecs_worker(start_worker, queue_url, old_agent)
        wait_until(lambda: old_agent.protection_enabled, what="the old task protected while busy")
        old.wait_log("rollout check", standing="current")

        # When a deployment of revision 2 starts, before any task of it runs: the old task keeps working
        v2 = _register(ecs, "worker")
        ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=v2)
        deployments.set(("PRIMARY", v2, 0, "IN_PROGRESS"), ("ACTIVE", v1, 1, "COMPLETED"))
        old.wait_log("rollout check", standing="pending")
        assert old_agent.protection_enabled and not old.logs("retiring")

        # and once a task of revision 2 runs
        new = _ecs_worker(start_worker, queue_url, new_agent)
        deployments.set(("PRIMARY", v2, 1, "IN_PROGRESS"), ("ACTIVE", v1, 1, "COMPLETED"))

        # Then the old task stops taking work and lets its protection go while the backlog lasts
        wait_until(
            lambda: old_agent.changes and not old_agent.protection_enabled,
            what=lambda: f"the old task's protection to drop\n{old.output()}",
        )
        assert aws.counts(queue_url)[0] > 0, "the backlog is still there: the old task did not just run dry"
        (retiring,) = old.logs("retiring")
        assert f"{v2}" in retiring["reason"] and "running" in retiring["reason"]
        assert old_agent.changes[-1].enabled is False
        # while the new task, on the version in force, works on protected
        new.wait_log("rollout check", standing="current")
        wait_until(lambda: new_agent.protection_enabled, what="the new task protected while busy")
        assert not new.logs("retiring")

        # And ECS stops the unprotected old task (SIGTERM): it drains and exits; the rollout is done
        old.signal(signal.SIGTERM)
        assert old.wait() == 0
        deployments.set(("PRIMARY", v2, 1, "COMPLETED"))
        wait_until(lambda: len(_job_ids(new)) >= 3, what="the new task working")
        new.signal(signal.SIGTERM)
        assert new.wait() == 0

    # Nothing lost, nothing done twice: every job was processed once or is back in the queue.
    left = [json.loads(body)["job_id"] for body in aws.drain(queue_url)]
    done = _job_ids(old) + _job_ids(new)
    assert sorted(done + left) == sorted(sent)
    assert old.logs("worker stopped", messages_still_held=0)


# ---------------------------------------------------------------- EC2: an instance refresh


HOOK = "drain-before-terminate"


class EmulatedRefresh:
    """How an instance refresh treats one outdated instance, per ScaleInProtectedInstances.

    moto implements neither instance refreshes nor lifecycle hooks. The documented behaviour
    (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html): Refresh
    replaces protected instances, Ignore leaves them, Wait waits (one hour, then the refresh fails)
    for their protection to go. A replaced instance goes through the group's termination hook: its
    metadata says Terminated, and the group waits for CompleteLifecycleAction.
    """

    def __init__(self, aws: Aws, proxy: AwsProxy, preference: str) -> None:
        self._aws = aws
        self._proxy = proxy
        self._preference = preference

    def _protected(self, instance_id: str) -> bool:
        (instance,) = self._aws.autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])[
            "AutoScalingInstances"
        ]
        return bool(instance["ProtectedFromScaleIn"])

    def replace(self, instance_id: str, imds: ImdsStub, worker: WorkerProcess) -> str:
        if self._protected(instance_id):
            if self._preference == "Ignore":
                return "left on the old version (protected, Ignore)"
            if self._preference == "Wait":
                # Under a steady backlog the protection never goes: 20 more jobs stand for the hour.
                seen = len(worker.outcomes("processed"))
                wait_until(lambda: len(worker.outcomes("processed")) >= seen + 20, what="20 more jobs")
                if self._protected(instance_id):
                    return "still protected: the refresh fails after an hour (Wait)"
        self._proxy.lifecycle.states[instance_id] = "Terminating:Wait"
        imds.lifecycle_state = "Terminated"
        wait_until(
            lambda: any(call["Action"] == "CompleteLifecycleAction" for call in self._proxy.lifecycle_calls),
            timeout=120,
            what=lambda: f"the lifecycle action to be completed\n{worker.output()}",
        )
        return "replaced"


def test_an_instance_refresh_replaces_a_busy_instance_under_a_steady_backlog(
    aws: Aws, start_worker, moto_url
):
    # Given a busy worker on an instance of the group: a steady backlog and a job longer than the drain
    instance_id = aws.ec2_fleet()
    queue_url, _ = aws.queue(visibility=30)
    sent = ["long", *(f"job-{i}" for i in range(JOBS))]
    aws.send(queue_url, [job("long", 600)])
    aws.send(queue_url, [job(job_id, 0.3) for job_id in sent[1:]])
    with ImdsStub(instance_id) as imds, AwsProxy(moto_url) as proxy:
        worker = start_worker(
            queue_url,
            AWS_ENDPOINT_URL=proxy.url,  # moto lacks the lifecycle-action calls: the proxy answers them
            WORKER_PLATFORM="EC2",
            FLEET_NAME="fleet",
            WORKER_IMDS_ENDPOINT=imds.url,
            WORKER_LIFECYCLE_HOOK_NAME=HOOK,
            WORKER_TERMINATION_POLL_SECONDS="0.2",
            WORKER_CONCURRENCY="2",
            WORKER_VISIBILITY_TIMEOUT="30",
            WORKER_SHUTDOWN_GRACE_SECONDS="3",
        )
        wait_until(lambda: len(worker.outcomes("processed")) >= 3, what="the worker busy")

        # When the rollout's instance refresh reaches the instance, with the rollout's preferences
        outcome = EmulatedRefresh(aws, proxy, PREFERENCES.scale_in_protected_instances).replace(
            instance_id, imds, worker
        )

        # Then it is replaced through the drain: running short jobs finish, the long one is handed back
        assert outcome == "replaced"
        assert worker.wait(timeout=60) == TERMINATING_EXIT_CODE
        assert aws.counts(queue_url)[0] > 0, "the backlog is still there: the instance was busy"
        assert [(line["job_id"], line["visibility_s"]) for line in worker.outcomes("released")] == [
            ("long", 0)
        ]

    # Nothing lost: every job was processed or is back in the queue for the new instances.
    left = [json.loads(body)["job_id"] for body in aws.drain(queue_url)]
    assert sorted(_job_ids(worker) + left) == sorted(sent)
    assert "long" in left
