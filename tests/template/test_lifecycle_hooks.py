"""The EC2 group's lifecycle hooks on the translated template: a new instance waits in Pending:Wait
until its worker can take work, a terminating one waits while it drains, and the worker's numbers
(heartbeat interval, call timeouts, exit code) fit the hooks' timeouts and the systemd unit."""

from __future__ import annotations

import json
from typing import Any

from qas import emulator
from tests.template.conftest import resolved
from worker import consumer, settings
from worker.clients import autoscaling_call_worst_seconds
from worker.imds import _HTTP_TIMEOUT_SECONDS as IMDS_TIMEOUT_SECONDS
from worker.termination import HEARTBEAT_EVERY_SECONDS, TERMINATING_EXIT_CODE

# AWS limits of a lifecycle hook (EC2 Auto Scaling user guide, lifecycle hooks): a heartbeat timeout
# of 30..7200 s; an instance waits at most 48 h or 100 x the heartbeat timeout, whichever is smaller.
HEARTBEAT_TIMEOUT_RANGE = (30, 7200)
GLOBAL_WAIT_LIMIT_SECONDS = 48 * 3600


def _hooks(parameters: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    translated, resolver = resolved({"WorkerPlatform": "EC2", **(parameters or {})})
    group = resolver.resolve(translated["Resources"]["WorkerGroup"])
    return {
        hook["LifecycleTransition"]: hook for hook in group["Properties"]["LifecycleHookSpecificationList"]
    }


def _boot_script(parameters: dict[str, str] | None = None) -> str:
    translated, resolver = resolved({"WorkerPlatform": "EC2", **(parameters or {})})
    data = resolver.resolve(translated["Resources"]["WorkerLaunchTemplate"])["Properties"][
        "LaunchTemplateData"
    ]
    # The resolver leaves Fn::Base64 to CloudFormation: the script is its argument.
    script: str = data["UserData"]["Fn::Base64"]
    return script


def _worker_env(script: str) -> dict[str, str]:
    env_file = script.split("<<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    return dict(line.strip().split("=", 1) for line in env_file.splitlines())


def _unit(script: str) -> str:
    return script.split("<<'UNIT'\n", 1)[1].split("\nUNIT\n", 1)[0]


def test_a_new_instance_waits_until_its_worker_can_take_work() -> None:
    launch = _hooks()["autoscaling:EC2_INSTANCE_LAUNCHING"]
    # A broken instance (no Docker, no image, bad settings, no route to the queue) never enters service.
    assert launch["DefaultResult"] == "ABANDON"
    assert launch["HeartbeatTimeout"] == "600"  # WorkerBootTimeoutSeconds' default
    assert (
        _hooks({"WorkerBootTimeoutSeconds": "1800"})["autoscaling:EC2_INSTANCE_LAUNCHING"]["HeartbeatTimeout"]
        == "1800"
    )
    parameter = emulator.translate()["Parameters"]["WorkerBootTimeoutSeconds"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == HEARTBEAT_TIMEOUT_RANGE
    # The worker learns the hook's name from its environment; the group's own name too.
    env = _worker_env(_boot_script())
    assert env["WORKER_LAUNCH_HOOK_NAME"] == launch["LifecycleHookName"]
    assert env["WORKER_PLATFORM"] == "EC2"
    # And the hook's timeout: it retries a throttled completion until then, not less, not forever
    for boot_timeout in ("600", "1800"):
        hook = _hooks({"WorkerBootTimeoutSeconds": boot_timeout})["autoscaling:EC2_INSTANCE_LAUNCHING"]
        env = _worker_env(_boot_script({"WorkerBootTimeoutSeconds": boot_timeout}))
        assert env["WORKER_LAUNCH_HOOK_TIMEOUT_SECONDS"] == hook["HeartbeatTimeout"] == boot_timeout


def test_the_termination_hook_is_heartbeated_well_inside_its_timeout() -> None:
    terminate = _hooks()["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert terminate["DefaultResult"] == "CONTINUE"  # a dead worker must not keep the instance
    timeout = int(terminate["HeartbeatTimeout"])
    assert HEARTBEAT_TIMEOUT_RANGE[0] <= timeout <= HEARTBEAT_TIMEOUT_RANGE[1]
    env = _worker_env(_boot_script())
    assert env["WORKER_LIFECYCLE_HOOK_NAME"] == terminate["LifecycleHookName"]
    assert env["WORKER_LIFECYCLE_HOOK_TIMEOUT_SECONDS"] == str(timeout)
    one_call = autoscaling_call_worst_seconds()
    # Before the first heartbeat: a poll interval, the token and both notice reads, one heartbeat call.
    first = settings.Settings.termination_poll_seconds + 3 * IMDS_TIMEOUT_SECONDS + one_call
    # Between two: the interval, then a call that may take its worst.
    between = HEARTBEAT_EVERY_SECONDS + one_call
    assert max(first, between) < timeout


def test_the_longest_drain_fits_the_hooks_overall_limit_but_not_its_timeout() -> None:
    """Why the worker heartbeats while it drains: with today's numbers the longest drain (every
    stage of Consumer._shutdown at its bound) is longer than the hook's timeout, which one heartbeat
    at the notice used to have to cover."""
    template = emulator.translate(parameters={"WorkerPlatform": "EC2"})
    timeout = int(_hooks()["autoscaling:EC2_INSTANCE_TERMINATING"]["HeartbeatTimeout"])
    one_call = autoscaling_call_worst_seconds()
    longest_drain = (
        int(template["Parameters"]["WorkerShutdownGraceSeconds"]["MaxValue"])  # running jobs finish
        + settings.Settings.kill_grace_seconds
        + 5  # cancelled command handlers stop their child
        + consumer._FINAL_SETTLE_SECONDS  # last deletes and releases
        + 4 * 5  # the four housekeeping threads joined, 5 s each at most
        + 5
        + 10  # the last PutMetricData: one attempt, connect + read timeouts
        + one_call  # scale-in protection off
        + 5
        + 5  # the launch watcher and the notice poller joined
    )
    assert longest_drain > timeout
    assert longest_drain < min(GLOBAL_WAIT_LIMIT_SECONDS, 100 * timeout)


def test_the_unit_does_not_restart_a_worker_that_drained_for_a_termination() -> None:
    unit = _unit(_boot_script())
    assert "Restart=always" in unit
    assert f"RestartPreventExitStatus={TERMINATING_EXIT_CODE}" in unit.splitlines()
    assert TERMINATING_EXIT_CODE not in (0, 1, 2)  # clean stop, crash, bad settings: restarted


def test_the_instance_role_may_read_its_state_and_act_on_its_own_groups_hooks_only() -> None:
    translated, resolver = resolved({"WorkerPlatform": "EC2"})
    role = resolver.resolve(translated["Resources"]["WorkerInstanceRole"])
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    (acting,) = [s for s in statements if "autoscaling:CompleteLifecycleAction" in s["Action"]]
    assert sorted(acting["Action"]) == [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    assert json.dumps(acting["Resource"]).endswith(':autoScalingGroup:*:autoScalingGroupName/stack-workers"')
    (reading,) = [s for s in statements if s["Action"] == "autoscaling:DescribeAutoScalingInstances"]
    assert reading["Resource"] == "*"  # Describe* actions have no resource-level permissions
