"""`qas doctor` and the EC2 warm pool: preflight on moto (`mock_aws`: the template's Rules, the pool
the template would not create, the size, hibernation from `DescribeInstanceTypes`, the monthly cost),
`stack` on a moto group with a pool (`put_warm_pool`, `describe_warm_pool`), and `fleet` on an
existing group with one. moto's `describe_warm_pool` lists no instances: the pool's instances come
from botocore's Stubber, with real instances (and launch times) from moto's EC2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.stub import Stubber

from qas import emulator
from qas.doctor import config, fleet_reader, preflight, warm_pool
from qas.doctor.findings import Finding, Severity
from qas.doctor.fleet import LAUNCHING, TERMINATING
from qas.doctor.warm_pool import InstanceType, Pool, PoolInstance
from tests.doctor.conftest import REGION, Account
from tests.doctor.fleet_account import Account as FleetAccount
from tests.doctor.fleet_account import asg_findings, moto_account
from tests.doctor.test_preflight import TEMPLATE, _only_problem, _problems

ON_DEMAND = {"WorkerPlatform": "EC2", "OnDemandPercentage": "100"}


def _values(account: Account, **parameters: str) -> dict[str, str]:
    given = {"SubnetIds": ",".join(account.nat_subnets), "SecurityGroupIds": account.security_group}
    return config.effective_parameters(emulator.load_template(TEMPLATE), {**given, **parameters})


def _pool_findings(account: Account, **parameters: str) -> list[Finding]:
    template = emulator.load_template(TEMPLATE)
    return warm_pool.check_preflight(account, template, _values(account, **parameters))


def _of(findings: list[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.check == warm_pool.CHECK and f.severity is severity]


# ---- preflight ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"WorkerPlatform": "ECS", "WarmPool": "Stopped"}, ("WorkerPlatform=ECS", "WorkerPlatform=EC2")),
        (
            {"WorkerPlatform": "EC2", "WarmPool": "Hibernated", "OnDemandPercentage": "50"},
            ("OnDemandPercentage=50", "WarmPoolNeedsOnDemand", "Spot Instances", "OnDemandPercentage=100"),
        ),
    ],
)
def test_a_pool_aws_refuses_is_one_problem_naming_the_parameter(
    account: Account, parameters: dict[str, str], words: tuple[str, ...]
) -> None:
    """The template's Rules decide; the warm pool check reports them once, not the parameter check."""
    account.session.client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    given = {"SubnetIds": ",".join(account.nat_subnets), "SecurityGroupIds": account.security_group}
    deploy = config.DeployConfig("dev", "qas-dev", REGION, {**given, "MaxCapacity": "0", **parameters})
    found = _only_problem(preflight.run(account, deploy, TEMPLATE, sam_validate=False), "warm pool", *words)
    assert f"WarmPool={parameters['WarmPool']}" in found.what


def test_off_says_nothing(account: Account) -> None:
    assert _pool_findings(account, WorkerPlatform="ECS") == []
    assert _pool_findings(account, WorkerPlatform="EC2", OnDemandPercentage="50") == []


def test_a_stopped_pool_that_holds_is_ok_and_costs_its_volumes(account: Account) -> None:
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Stopped", WarmPoolSize="3", MaxCapacity="3")
    (fine,) = _of(findings, Severity.OK)
    assert "WarmPool=Stopped with 3 instance(s)" in fine.what
    (cost,) = _of(findings, Severity.NOTE)
    # 3 stopped instances x the template's 30 GB root x $0.08 per GB-month (qas plan's assumption)
    assert f"${3 * 30 * 0.08:,.2f} a month" in cost.what and "30 GB gp3" in cost.what
    assert "--warm-pool 3" in cost.fix
    assert _problems(findings) == []


def test_a_pool_larger_than_max_capacity_pays_for_instances_never_used(account: Account) -> None:
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Stopped", WarmPoolSize="5", MaxCapacity="2")
    larger, _cost = _of(findings, Severity.NOTE)
    assert "WarmPoolSize=5 is above MaxCapacity=2" in larger.what and "3 pool instance(s)" in larger.what
    assert larger.fix == "WarmPoolSize=2 or less"
    assert _of(findings, Severity.OK) == [] and _problems(findings) == []
    assert warm_pool.size_findings(2, 2) == []


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"MaxCapacity": "0"}, "MaxCapacity=0 parks the fleet"),
        ({"ExistingAutoScalingGroupName": "legacy"}, "attached to ExistingAutoScalingGroupName"),
    ],
)
def test_a_pool_the_template_does_not_create_is_one_note(
    account: Account, parameters: dict[str, str], words: str
) -> None:
    (only,) = _pool_findings(account, **ON_DEMAND, WarmPool="Stopped", **parameters)
    assert (
        only.severity is Severity.NOTE and "WarmPool=Stopped does nothing" in only.what and words in only.what
    )


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"MaxCapacity": "0"},
        {"MaxCapacity": "1"},
        {"ExistingAutoScalingGroupName": "legacy"},
        {"ExistingAutoScalingGroupName": "legacy", "MaxCapacity": "0"},
    ],
)
def test_not_created_is_the_templates_condition(parameters: dict[str, str]) -> None:
    """`not_created` says no more and no less than the template's `UseWarmPool` (an EC2 fleet)."""
    template = emulator.translate(parameters={"WorkerPlatform": "EC2"})
    given = {"SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1", "WarmPool": "Stopped", **ON_DEMAND}
    values = config.effective_parameters(template, {**given, **parameters})
    resolver = emulator.Resolver(template, values, "qas", ref=str, get_att=lambda name, attr: name)
    assert (warm_pool.not_created(values) is None) == resolver.condition("UseWarmPool")


def test_hibernated_checks_each_instance_type(account: Account) -> None:
    """moto's DescribeInstanceTypes: g4dn.xlarge does not hibernate; m5.2xlarge's 32 GiB do not fit the
    30 GB root volume; c6i.large (4 GiB) and r5.large (16 GiB) are fine."""
    types = "c6i.large,g4dn.xlarge,m5.2xlarge,r5.large"
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Hibernated", InstanceTypes=types)
    unsupported, too_large = _problems(findings)
    assert unsupported.what == "g4dn.xlarge does not support hibernation"
    assert "WarmPool=Stopped" in unsupported.fix
    assert too_large.what.startswith("m5.2xlarge has 32 GiB of RAM") and "30 GB" in too_large.what
    assert "WorkerLaunchTemplate" in too_large.fix
    (cost,) = _of(findings, Severity.NOTE)
    assert "hibernated" in cost.what and "RAM image" in cost.what


def test_hibernated_types_that_fit_are_ok(account: Account) -> None:
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Hibernated", InstanceTypes="c6i.large,r5.large")
    assert _problems(findings) == [] and len(_of(findings, Severity.OK)) == 1


def test_an_instance_type_that_does_not_exist_is_named(account: Account) -> None:
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Hibernated", InstanceTypes="c6i.large,c6i.nope")
    (unreadable,) = _problems(findings)
    assert "c6i.nope" in unreadable.what and unreadable.fix == "fix InstanceTypes"


def test_hibernation_limits_on_plain_values() -> None:
    """The 150 GB RAM limit cannot be reached through the template's 30 GB root: held here with a
    larger volume. RAM equal to the root volume does not fit; a GiB less does (its boundary)."""
    gib = 1024

    def problems(memory_gib: int, root: float) -> list[str]:
        return [
            f.what for f in warm_pool.hibernation_findings([InstanceType("x", True, memory_gib * gib)], root)
        ]

    assert problems(150, 1000) == []
    assert problems(151, 1000) == ["x has 151 GiB of RAM: no instance with more than 150 GB hibernates"]
    assert problems(29, 30) == []
    assert len(problems(30, 30)) == 1
    assert warm_pool.hibernation_findings([InstanceType("x", False, gib)], 30)[0].severity is Severity.PROBLEM


def test_an_ami_other_than_al2023_is_a_note_to_check_it(account: Account) -> None:
    findings = _pool_findings(account, **ON_DEMAND, WarmPool="Hibernated", InstanceTypes="c6i.large,m5.large")
    assert not any("WorkerAmiId" in f.what for f in findings)
    findings = _pool_findings(
        account, **ON_DEMAND, WarmPool="Hibernated", InstanceTypes="c6i.large,m5.large", WorkerAmiId="/my/ami"
    )
    (ami,) = [f for f in findings if "WorkerAmiId" in f.what]
    assert ami.severity is Severity.NOTE and "/my/ami" in ami.what and "WarmPool=Stopped" in ami.fix
    assert _of(findings, Severity.OK) == []


# ---- stack ----------------------------------------------------------------------------------------


@pytest.fixture
def fleet_account() -> Iterator[FleetAccount]:
    yield from moto_account()


def _stack(account: FleetAccount, now: datetime | None = None, **parameters: str) -> list[Finding]:
    values = {"WarmPool": "Stopped", "WarmPoolSize": "2", "MaxCapacity": "10", **parameters}
    return warm_pool.check_stack(account, values, "workers", now=now or datetime.now(UTC), boot_timeout_s=600)


def _put_pool(account: FleetAccount, size: int = 2, state: str = "Stopped", **extra: Any) -> None:
    account.client("autoscaling").put_warm_pool(
        AutoScalingGroupName="workers", MinSize=size, MaxGroupPreparedCapacity=size, PoolState=state, **extra
    )


def test_stack_off_or_parked_reads_nothing(fleet_account: FleetAccount) -> None:
    assert _stack(fleet_account, WarmPool="Off") == []  # no group: nothing was read
    (parked,) = _stack(fleet_account, MaxCapacity="0")
    assert parked.severity is Severity.NOTE and "MaxCapacity=0" in parked.what


def test_stack_without_its_pool_is_a_problem(fleet_account: FleetAccount) -> None:
    fleet_account.group()
    (missing,) = _stack(fleet_account)
    assert missing.severity is Severity.PROBLEM and "workers has no warm pool" in missing.what
    assert "WorkerWarmPool" in missing.fix


def test_stack_pool_as_deployed_but_empty_is_a_note(fleet_account: FleetAccount) -> None:
    fleet_account.group()
    _put_pool(fleet_account)
    (empty,) = _stack(fleet_account)
    assert empty.severity is Severity.NOTE and "0 of WarmPoolSize=2 instance(s) in the pool" in empty.what


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"WarmPool": "Hibernated"}, "keeps its instances Stopped, WarmPool is Hibernated"),
        ({"WarmPoolSize": "3"}, "MinSize 2 and MaxGroupPreparedCapacity 2, WarmPoolSize is 3"),
    ],
)
def test_stack_pool_changed_outside_the_stack(
    fleet_account: FleetAccount, parameters: dict[str, str], words: str
) -> None:
    fleet_account.group()
    _put_pool(fleet_account)
    (changed,) = _problems(_stack(fleet_account, **parameters))
    assert words in changed.what and "sam deploy" in changed.fix


def _pool_answer(instances: list[tuple[str, str]], next_page: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "WarmPoolConfiguration": {"MinSize": 3, "MaxGroupPreparedCapacity": 3, "PoolState": "Stopped"},
        "Instances": [
            {
                "InstanceId": instance,
                "InstanceType": "c6i.large",
                "AvailabilityZone": f"{REGION}a",
                "LifecycleState": state,
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": False,
            }
            for instance, state in instances
        ],
    }
    if next_page:
        answer["NextToken"] = next_page
    return answer


def test_stack_pool_instances_stuck_on_their_way_in(fleet_account: FleetAccount) -> None:
    """Two pages of pool instances (Stubber), launched by moto's EC2 at known times: the one waiting
    longer than half of WorkerBootTimeoutSeconds is stuck, the younger one and a stopped one are not."""
    ec2 = fleet_account.client("ec2")
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def launch(at: datetime) -> str:
        with time_machine.travel(at, tick=False):
            reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        return str(reservation["Instances"][0]["InstanceId"])

    stuck, young, stopped = launch(start), launch(start + timedelta(minutes=4)), launch(start)
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    with Stubber(autoscaling) as stub:
        stub.add_response(
            "describe_warm_pool",
            _pool_answer([(stuck, "Warmed:Pending:Wait"), (stopped, "Warmed:Stopped")], next_page="next"),
            {"AutoScalingGroupName": "workers"},
        )
        stub.add_response(
            "describe_warm_pool",
            _pool_answer([(young, "Warmed:Pending")]),
            {"AutoScalingGroupName": "workers", "NextToken": "next"},
        )
        fleet_account.client = lambda name: autoscaling if name == "autoscaling" else ec2  # type: ignore[method-assign]
        findings = _stack(fleet_account, now=start + timedelta(minutes=6), WarmPoolSize="3")
        stub.assert_no_pending_responses()
    (problem,) = findings  # three instances of three: no size note
    assert problem.severity is Severity.PROBLEM
    assert f"({stuck})" in problem.what and "for up to 6 min" in problem.what and young not in problem.what
    assert f"start-session --target {stuck}" in problem.fix


def test_stuck_is_past_half_the_boot_timeout() -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    waiting = [PoolInstance("i-1", "Warmed:Pending:Wait")]
    launched = {"i-1": start}
    assert warm_pool.stuck_findings(waiting, launched, start + timedelta(seconds=300), 600) == []
    assert len(warm_pool.stuck_findings(waiting, launched, start + timedelta(seconds=301), 600)) == 1
    stopped = [PoolInstance("i-1", "Warmed:Stopped")]
    assert warm_pool.stuck_findings(stopped, launched, start + timedelta(hours=1), 600) == []


def test_a_full_pool_as_deployed_is_ok() -> None:
    pool = Pool("Stopped", 2, 2, False, "", (PoolInstance("i-1", "Warmed:Stopped"),) * 2)
    kwargs: dict[str, Any] = {"group": "g", "launched": {}, "now": datetime.now(UTC), "boot_timeout_s": 600}
    (fine,) = warm_pool.stack_findings(pool, mode="Stopped", size=2, **kwargs)
    assert (
        fine.severity is Severity.OK
        and fine.what == "2 of WarmPoolSize=2 instance(s) in the pool (2 Warmed:Stopped)"
    )
    deleting = Pool("Stopped", 2, 2, False, "PendingDelete", pool.instances)
    (pending,) = warm_pool.stack_findings(deleting, mode="Stopped", size=2, **kwargs)
    assert pending.severity is Severity.NOTE and "PendingDelete" in pending.what


# ---- fleet (attach mode) --------------------------------------------------------------------------


def test_an_attached_group_with_a_pool_the_worker_must_handle(fleet_account: FleetAccount) -> None:
    fleet_account.group(hooks=(TERMINATING, LAUNCHING))
    _put_pool(fleet_account)
    (pool,) = asg_findings(fleet_account)
    assert (
        pool.severity is Severity.NOTE
        and "does not manage" in pool.what
        and "Warmed:Pending:Wait" in pool.what
    )
    assert (
        "worker/warm_pool.py" in pool.fix and "delete-warm-pool --auto-scaling-group-name workers" in pool.fix
    )


def test_an_attached_pool_without_a_launch_hook_and_reusing_instances(fleet_account: FleetAccount) -> None:
    fleet_account.group()
    _put_pool(fleet_account, InstanceReusePolicy={"ReuseOnScaleIn": True})
    _, no_hook, reuse = [f for f in asg_findings(fleet_account) if f.check == warm_pool.CHECK]
    assert no_hook.severity is Severity.PROBLEM and "no launch lifecycle hook" in no_hook.what
    assert "EC2_INSTANCE_LAUNCHING" in no_hook.fix
    assert reuse.severity is Severity.NOTE and "ReuseOnScaleIn=false" in reuse.fix


def test_an_attached_pool_on_a_group_with_spot_is_a_problem(fleet_account: FleetAccount) -> None:
    autoscaling = fleet_account.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="workers",
        MinSize=0,
        MaxSize=10,
        VPCZoneIdentifier=fleet_account.subnet,
        NewInstancesProtectedFromScaleIn=True,
        HealthCheckGracePeriod=300,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "workers"},
                "Overrides": [{"InstanceType": "c6i.large"}, {"InstanceType": "c5.large"}],
            },
            "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 50},
        },
    )
    for transition in (TERMINATING, LAUNCHING):
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName="workers", LifecycleHookName=transition[-5:], LifecycleTransition=transition
        )
    _put_pool(fleet_account)
    (spot,) = _problems(asg_findings(fleet_account))
    assert "launches Spot Instances" in spot.what and warm_pool.LIMITATIONS in spot.what
    assert "OnDemandPercentageAboveBaseCapacity=100" in spot.fix


@pytest.mark.parametrize(
    ("group", "spot"),
    [
        ({}, False),
        ({"MixedInstancesPolicy": {"InstancesDistribution": {}}}, False),  # AWS's default: 100
        (
            {"MixedInstancesPolicy": {"InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 100}}},
            False,
        ),
        (
            {"MixedInstancesPolicy": {"InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 99}}},
            True,
        ),
    ],
)
def test_spot_is_an_on_demand_share_below_100(group: dict[str, Any], spot: bool) -> None:
    assert fleet_reader.launches_spot(group) is spot


def test_read_pool_takes_an_unset_prepared_capacity_and_a_pending_delete() -> None:
    """DescribeWarmPool as AWS documents it (Stubber: moto always answers a configuration it stored):
    MaxGroupPreparedCapacity -1 is unset, no InstanceReusePolicy is no reuse."""
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    answer = {
        "WarmPoolConfiguration": {
            "MinSize": 0,
            "MaxGroupPreparedCapacity": -1,
            "PoolState": "Running",
            "Status": "PendingDelete",
        },
        "Instances": [],
    }
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_warm_pool", answer, {"AutoScalingGroupName": "g"})
        stub.add_response(
            "describe_warm_pool",
            {
                **answer,
                "WarmPoolConfiguration": {**answer["WarmPoolConfiguration"], "MaxGroupPreparedCapacity": 0},
            },
            {"AutoScalingGroupName": "g"},
        )
        assert warm_pool.read_pool(autoscaling, "g") == Pool("Running", 0, None, False, "PendingDelete")
        assert warm_pool.read_pool(autoscaling, "g") == Pool("Running", 0, 0, False, "PendingDelete")


@pytest.mark.parametrize("size", ["0", "two"])
def test_a_size_the_template_refuses_is_left_to_the_parameter_check(account: Account, size: str) -> None:
    assert _pool_findings(account, **ON_DEMAND, WarmPool="Stopped", WarmPoolSize=size) == []


def test_stopped_does_not_ask_for_hibernation(account: Account) -> None:
    findings = _pool_findings(
        account,
        **ON_DEMAND,
        WarmPool="Stopped",
        InstanceTypes="g4dn.xlarge,m5.2xlarge",
        WorkerAmiId="/my/ami",
    )
    assert _problems(findings) == [] and len(_of(findings, Severity.OK)) == 1
