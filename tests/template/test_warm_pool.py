"""The EC2 warm pool option on the SAM-translated template: its condition, the resource, the launch
template's hibernation, and the Rules that refuse what AWS refuses (the same Rules `qas doctor`
evaluates)."""

from __future__ import annotations

from typing import Any

import pytest

from qas import emulator
from qas.doctor import config

ON_DEMAND = {"OnDemandPercentage": "100"}
WARM_RULES = {"WarmPoolNeedsEc2", "WarmPoolNeedsOnDemand"}


def _resolved(parameters: dict[str, str]) -> tuple[dict[str, Any], emulator.Resolver, dict[str, str]]:
    template = emulator.translate(parameters={"WorkerPlatform": parameters.get("WorkerPlatform", "EC2")})
    values = config.effective_parameters(
        template, {"SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1", **parameters}
    )
    resolver = emulator.Resolver(
        template, values, "qas", ref=lambda name: f"<{name}>", get_att=lambda name, attr: f"<{name}.{attr}>"
    )
    return template, resolver, values


def _active(parameters: dict[str, str]) -> dict[str, Any]:
    template, resolver, _ = _resolved(parameters)
    return {
        name: resolver.resolve(resource)
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def _broken(parameters: dict[str, str]) -> set[str]:
    template, _, values = _resolved(parameters)
    return {name for name, _ in config.broken_rules(template, values)}


def test_the_warm_pool_is_off_by_default() -> None:
    resources = _active({})
    assert "WorkerWarmPool" not in resources
    assert "HibernationOptions" not in resources["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]


@pytest.mark.parametrize(("state", "size"), [("Stopped", "2"), ("Hibernated", "5")])
def test_warm_pool_on_creates_a_fixed_size_pool_of_the_group_that_never_reuses(state: str, size: str) -> None:
    resources = _active({"WarmPool": state, "WarmPoolSize": size, **ON_DEMAND})
    pool = resources["WorkerWarmPool"]
    assert pool["Type"] == "AWS::AutoScaling::WarmPool"
    assert pool["Properties"] == {
        "AutoScalingGroupName": "<WorkerGroup>",
        "PoolState": state,
        # Both equal: the pool holds `size` instances whatever the group's desired capacity.
        "MinSize": size,
        "MaxGroupPreparedCapacity": size,
        "InstanceReusePolicy": {"ReuseOnScaleIn": False},
    }


def test_the_pool_relies_on_the_launch_hook_of_the_group() -> None:
    # AWS: without a launch hook, an instance could be stopped before its user data is done.
    group = _active({"WarmPool": "Stopped", **ON_DEMAND})["WorkerGroup"]["Properties"]
    (launching,) = [
        hook
        for hook in group["LifecycleHookSpecificationList"]
        if hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    ]
    assert launching["LifecycleHookName"] == "ready-to-consume"
    assert launching["DefaultResult"] == "ABANDON"


def test_hibernated_configures_hibernation_on_an_encrypted_ebs_root() -> None:
    data = _active({"WarmPool": "Hibernated", **ON_DEMAND})["WorkerLaunchTemplate"]["Properties"][
        "LaunchTemplateData"
    ]
    assert data["HibernationOptions"] == {"Configured": True}
    (root,) = data["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    stopped = _active({"WarmPool": "Stopped", **ON_DEMAND})["WorkerLaunchTemplate"]
    assert "HibernationOptions" not in stopped["Properties"]["LaunchTemplateData"]


@pytest.mark.parametrize(
    "parameters",
    [
        {"WorkerPlatform": "ECS", "WarmPool": "Stopped", **ON_DEMAND},
        {"WarmPool": "Stopped", "MaxCapacity": "0", **ON_DEMAND},
        {"WarmPool": "Off", **ON_DEMAND},
    ],
)
def test_no_pool_without_an_ec2_fleet_that_runs(parameters: dict[str, str]) -> None:
    assert "WorkerWarmPool" not in _active(parameters)


@pytest.mark.parametrize(
    ("parameters", "rules"),
    [
        ({"WarmPool": "Stopped", **ON_DEMAND}, set()),
        ({"WarmPool": "Hibernated", **ON_DEMAND}, set()),
        ({"WarmPool": "Stopped"}, {"WarmPoolNeedsOnDemand"}),  # the default is all Spot
        ({"WarmPool": "Hibernated", "OnDemandPercentage": "99"}, {"WarmPoolNeedsOnDemand"}),
        ({"WarmPool": "Off", "OnDemandPercentage": "0"}, set()),
        ({"WorkerPlatform": "ECS", "WarmPool": "Stopped"}, {"WarmPoolNeedsEc2"}),
        ({"WorkerPlatform": "ECS", "WarmPool": "Off"}, set()),
    ],
)
def test_rules_refuse_a_warm_pool_where_aws_does(parameters: dict[str, str], rules: set[str]) -> None:
    template, _, _ = _resolved(parameters)
    assert set(template["Rules"]) >= WARM_RULES  # SAM passes them through
    assert _broken(parameters) & WARM_RULES == rules
