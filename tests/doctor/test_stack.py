"""`qas doctor stack` on the template deployed to a moto server: a healthy stack passes, and each
broken state (alarms, a stale publisher, no durations, no tuner decision, dead letters, workers that
failed to start) is reported with its fix. moto runs no ECS tasks and records no scaling activities
or instance refreshes: those answers come from botocore's Stubber."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from qas import emulator
from qas.doctor import stack as doctor
from qas.doctor.findings import Finding, Severity, exit_code
from queue_autoscaler.common.observability import logger
from queue_autoscaler.common.settings import load_settings
from queue_autoscaler.scaling.estimate import NO_RUNNING_JOBS
from queue_autoscaler.scaling.target import DurationStats
from queue_autoscaler.scaling.tuning import tune_target
from queue_autoscaler.target_tuner import app as tuner_app
from queue_autoscaler.target_tuner.settings import TunerSettings
from tests.template.conftest import deployed, moto_server, server  # noqa: F401 (the session's moto server, emptied per test)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")]


class EmulatorSession:
    """What the doctor needs of a boto3 Session, pointed at the moto server; some clients stubbed."""

    region_name = emulator.REGION

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.overrides: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        return self.overrides.get(name) or emulator.client(self.endpoint, name, max_attempts=1)


@pytest.fixture
def ecs_stack(server: emulator.EmulatorServer) -> emulator.DeployedStack:  # noqa: F811
    return deployed(server, "doctor-ecs", {}, "ECS")


@pytest.fixture
def session(ecs_stack: emulator.DeployedStack) -> Iterator[EmulatorSession]:
    yield EmulatorSession(ecs_stack.endpoint)


def _stack(session: EmulatorSession, name: str) -> doctor.Stack:
    described = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return doctor.Stack(
        name=name,
        created=described["CreationTime"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]},
    )


def _put(session: EmulatorSession, stack: doctor.Stack, metric: str, value: float, when: datetime) -> None:
    session.client("cloudwatch").put_metric_data(
        Namespace=stack.namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "FleetName", "Value": stack.fleet}],
                "Value": value,
                "Timestamp": when,
            }
        ],
    )


def _log_tuner_decision(session: EmulatorSession, stack: doctor.Stack) -> None:
    """The tuner's own log line (its logger, its fields), written to its log group."""
    environ = {
        "FLEET_PLATFORM": stack.platform,
        "FLEET_NAME": stack.fleet,
        "ECS_CLUSTER": stack.outputs.get("ClusterName", ""),
        "SCALING_POLICY_NAME": stack.outputs["ScalingPolicyName"],
        "LATENCY_SLO_SECONDS": "300",
        "WORKER_CONCURRENCY": "2",
    }
    settings = load_settings(TunerSettings, environ)
    stats = DurationStats(samples=100, mean_s=10.0, tail_s=12.0, max_s=15.0)
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        run = tune_target(30.0, lambda _minutes: stats, NO_RUNNING_JOBS, None, settings.policy)
        tuner_app.log_decision(settings, run, None, {"duration_source": "MsgProcessingDuration"})
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    lines = [line for line in buffer.getvalue().splitlines() if line.startswith("{")]
    assert lines
    logs = session.client("logs")
    group = f"/aws/lambda/{stack.name}-target-tuner"
    logs.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    events = [{"timestamp": now_ms, "message": "START RequestId: 1"}] + [
        {"timestamp": now_ms + 1, "message": line} for line in lines
    ]
    logs.put_log_events(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc", logEvents=events)


def _by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [finding for finding in findings if finding.check == check]


def _healthy(session: EmulatorSession, stack: doctor.Stack, now: datetime) -> None:
    _put(session, stack, "BacklogPerInstance", 0.0, now - timedelta(seconds=30))
    _put(session, stack, "MsgProcessingDuration", 10.0, now - timedelta(minutes=5))
    _log_tuner_decision(session, stack)


def test_a_healthy_ecs_stack_has_no_problem_and_each_broken_part_is_named(
    session: EmulatorSession, ecs_stack: emulator.DeployedStack
) -> None:
    stack = _stack(session, ecs_stack.stack_name)
    now = datetime.now(UTC)
    _healthy(session, stack, now)

    findings = doctor.run(session, stack.name, now=now)
    assert [f for f in findings if f.severity is Severity.PROBLEM] == [], findings
    assert exit_code(findings) == 0
    (tuner,) = _by_check(findings, "tuner")
    assert "last decision" in tuner.what and "target updated" in tuner.what and "-> " in tuner.what
    (target,) = _by_check(findings, "target")
    assert target.severity is Severity.NOTE and "still InitialTarget (30)" in target.what

    # The tuner moved the target.
    policy = doctor.policy_of(session, stack)
    policy.set_target(45.0)
    (target,) = _by_check(doctor.run(session, stack.name, now=now), "target")
    assert target.severity is Severity.OK and "from InitialTarget 30 to 45" in target.what

    # An operations alarm in ALARM, and a target-tracking alarm without data.
    cloudwatch = session.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=f"{stack.name}-slo-breach", StateValue="ALARM", StateReason="test")
    tracking = next(
        alarm["AlarmName"]
        for alarm in cloudwatch.describe_alarms(AlarmNamePrefix="TargetTracking-")["MetricAlarms"]
        if stack.fleet in alarm["AlarmName"]
    )
    cloudwatch.set_alarm_state(AlarmName=tracking, StateValue="INSUFFICIENT_DATA", StateReason="test")
    try:
        alarms = _by_check(doctor.run(session, stack.name, now=now), "alarms")
    finally:
        for name in (f"{stack.name}-slo-breach", tracking):
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
    (breach,) = [f for f in alarms if f.severity is Severity.PROBLEM]
    assert "slo-breach is in ALARM" in breach.what and "MaxCapacity" in breach.fix
    assert any(tracking in f.what and "publisher is not publishing" in f.what for f in alarms)

    # Dead letters.
    sqs = session.client("sqs")
    dlq = stack.outputs["DeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    try:
        (dead,) = _by_check(doctor.run(session, stack.name, now=now), "dead letters")
    finally:
        sqs.purge_queue(QueueUrl=dlq)
    assert dead.severity is Severity.PROBLEM and "1 messages" in dead.what
    assert "start-message-move-task --source-arn arn:aws:sqs:" in dead.fix


def test_stale_publisher_and_missing_durations(
    session: EmulatorSession, ecs_stack: emulator.DeployedStack
) -> None:
    stack = _stack(session, ecs_stack.stack_name)
    cloudwatch = session.client("cloudwatch")
    base = datetime.now(UTC) - timedelta(days=3)  # a window no other test writes to
    _put(session, stack, "BacklogPerInstance", 1.0, base)
    _put(session, stack, "RunningCapacity", 2.0, base)

    fresh = doctor.check_publisher(cloudwatch, stack, base + timedelta(seconds=40))
    stale = doctor.check_publisher(cloudwatch, stack, base + timedelta(minutes=10))
    silent = doctor.check_publisher(cloudwatch, stack, base + timedelta(minutes=30))
    assert fresh.severity is Severity.OK
    assert stale.severity is Severity.PROBLEM and "600 s old" in stale.what and "aws logs tail" in stale.fix
    assert silent.severity is Severity.PROBLEM and "no BacklogPerInstance" in silent.what

    durations = doctor.check_durations(cloudwatch, stack, base + timedelta(minutes=5))
    assert durations.severity is Severity.PROBLEM and "no MsgProcessingDuration" in durations.what
    idle = doctor.check_durations(cloudwatch, stack, base - timedelta(hours=2))
    assert idle.severity is Severity.NOTE


def test_a_tuner_that_never_logged_a_decision(
    session: EmulatorSession, ecs_stack: emulator.DeployedStack
) -> None:
    stack = _stack(session, "doctor-ecs")
    silent = doctor.Stack(name="doctor-none", created=stack.created, outputs={}, parameters={})
    logs = session.client("logs")
    young = doctor.check_tuner(logs, silent, stack.created + timedelta(minutes=3))
    old = doctor.check_tuner(logs, silent, stack.created + timedelta(hours=2))
    assert young.severity is Severity.NOTE
    assert old.severity is Severity.PROBLEM and "describe-rule --name doctor-none-target-tuner" in old.fix


def test_tasks_that_failed_to_start_and_why(
    session: EmulatorSession, ecs_stack: emulator.DeployedStack
) -> None:
    stack = _stack(session, ecs_stack.stack_name)
    cluster = stack.outputs["ClusterName"]
    ecs = boto3.client("ecs", region_name=emulator.REGION)
    arns = [
        f"arn:aws:ecs:{emulator.REGION}:{emulator.ACCOUNT_ID}:task/{cluster}/{n}" for n in ("a", "b", "c")
    ]
    pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    with Stubber(ecs) as stub:
        stub.add_response(
            "list_tasks",
            {"taskArns": arns},
            {"cluster": cluster, "serviceName": stack.fleet, "desiredStatus": "STOPPED"},
        )
        tasks = [
            {
                "taskArn": arns[0],
                "stopCode": "TaskFailedToStart",
                "stoppedReason": "Task failed to start",
                "containers": [{"name": "worker", "reason": pull}],
            },
            {
                "taskArn": arns[1],
                "stopCode": "TaskFailedToStart",
                "stoppedReason": "Task failed to start",
                "containers": [{"name": "worker", "reason": pull}],
            },
            {
                "taskArn": arns[2],
                "stopCode": "ServiceSchedulerInitiated",
                "stoppedReason": "Scaling activity initiated by deployment",
                "containers": [{"name": "worker"}],
            },
        ]
        stub.add_response(
            "describe_tasks", {"tasks": tasks, "failures": []}, {"cluster": cluster, "tasks": arns}
        )
        # Then the rollout check: the service's single deployment, from the emulator.
        service = session.client("ecs").describe_services(cluster=cluster, services=[stack.fleet])
        service.pop("ResponseMetadata")
        stub.add_response("describe_services", service, {"cluster": cluster, "services": [stack.fleet]})
        session.overrides["ecs"] = ecs
        findings = doctor.run(session, stack.name)
        stub.assert_no_pending_responses()
    (failed,) = _by_check(findings, "failed starts")
    (rollout,) = _by_check(findings, "rollout")
    assert rollout.severity is Severity.OK and "every task runs" in rollout.what
    assert failed.severity is Severity.PROBLEM
    assert f"2 x Task failed to start / {pull}" in failed.what  # the scale-in stop is not a failure
    assert "CannotPullContainerError" in failed.fix


def test_ec2_failed_launches_and_refreshes(server: emulator.EmulatorServer) -> None:  # noqa: F811
    deployed_stack = deployed(server, "doctor-ec2", {}, "EC2")
    session = EmulatorSession(deployed_stack.endpoint)
    stack = _stack(session, deployed_stack.stack_name)
    real = session.client("autoscaling")
    autoscaling = boto3.client("autoscaling", region_name=emulator.REGION)
    policy = real.describe_policies(
        AutoScalingGroupName=stack.fleet, PolicyNames=[stack.outputs["ScalingPolicyName"]]
    )
    policy.pop("ResponseMetadata")
    for described in policy["ScalingPolicies"]:
        described.pop("PredictiveScalingConfiguration", None)  # moto's empty one fails validation
    failed_launch = {
        "ActivityId": "1",
        "AutoScalingGroupName": stack.fleet,
        "Cause": "capacity",
        "StartTime": datetime.now(UTC),
        "StatusCode": "Failed",
        "StatusMessage": "We currently do not have sufficient c6i.large capacity in the zone you requested",
    }
    # An instance the launch hook has held for 6 minutes (of WorkerBootTimeoutSeconds=600): its worker
    # never received; and one launched a minute ago, still booting normally.
    stuck, booting = "i-0123456789abcdef0", "i-0fedcba9876543210"
    launches = [
        {
            "ActivityId": f"launch-{instance}",
            "AutoScalingGroupName": stack.fleet,
            "Cause": "scale-out",
            "Description": f"Launching a new EC2 instance: {instance}",
            "StartTime": datetime.now(UTC) - timedelta(minutes=minutes),
            "StatusCode": "WaitingForInstanceWarmup",
        }
        for instance, minutes in ((stuck, 6), (booting, 1))
    ]
    group = real.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.fleet])
    group.pop("ResponseMetadata")
    group["AutoScalingGroups"][0]["Instances"] = [
        {
            "InstanceId": instance,
            "AvailabilityZone": f"{emulator.REGION}a",
            "LifecycleState": "Pending:Wait",
            "HealthStatus": "Healthy",
            "ProtectedFromScaleIn": False,
        }
        for instance in (stuck, booting)
    ]
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_policies", policy)
        stub.add_response(
            "describe_scaling_activities",
            {"Activities": [failed_launch, *launches]},
            {"AutoScalingGroupName": stack.fleet, "MaxRecords": 50},
        )
        stub.add_response("describe_auto_scaling_groups", group, {"AutoScalingGroupNames": [stack.fleet]})
        stub.add_response("describe_auto_scaling_groups", group, {"AutoScalingGroupNames": [stack.fleet]})
        stub.add_response(
            "describe_instance_refreshes",
            {
                "InstanceRefreshes": [
                    {
                        "InstanceRefreshId": "r",
                        "AutoScalingGroupName": stack.fleet,
                        "Status": "Failed",
                        "StatusReason": "instances were protected from scale in for over an hour",
                    }
                ]
            },
            {"AutoScalingGroupName": stack.fleet, "MaxRecords": 1},
        )
        session.overrides["autoscaling"] = autoscaling
        findings = doctor.run(session, stack.name)
        stub.assert_no_pending_responses()
    (launch,) = _by_check(findings, "failed starts")
    assert launch.severity is Severity.PROBLEM and "sufficient c6i.large capacity" in launch.what
    assert "InstanceTypes" in launch.fix and "journalctl -u queue-worker" in launch.fix
    (rollout,) = _by_check(findings, "rollout")
    assert rollout.severity is Severity.PROBLEM and "protected from scale in" in rollout.what
    assert rollout.fix.endswith(f"--function-name {stack.name}-fleet-rollout /dev/stdout")
    (waiting,) = _by_check(findings, "booting instances")
    assert waiting.severity is Severity.PROBLEM
    assert (
        stuck in waiting.what
        and booting not in waiting.what
        and "Pending:Wait for up to 6 min" in waiting.what
    )
    assert f"start-session --target {stuck}" in waiting.fix
    assert exit_code(findings) == 1


def test_a_missing_stack_is_one_problem(session: EmulatorSession) -> None:
    (finding,) = doctor.run(session, "no-such-stack")
    assert finding.severity is Severity.PROBLEM and "--region" in finding.fix


def test_the_alarm_explanations_name_real_alarms() -> None:
    names = {
        resource["Properties"]["AlarmName"]["Fn::Sub"].removeprefix("${AWS::StackName}-")
        for resource in emulator.load_template()["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(doctor.ALARM_MEANINGS) <= names
    assert json.dumps(sorted(names))  # every alarm has a literal name suffix
