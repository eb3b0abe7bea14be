"""`qas demo --attach`: a fleet built outside the stack, as a platform team's own (docs/attach.md).

Before the stack is deployed, the demo creates an Auto Scaling group (EC2) or an ECS service with its
cluster and task definition (ECS) on the emulator with plain boto3 calls, then deploys the template
in attach mode onto it (ExistingAutoScalingGroupName, or ExistingEcsClusterName +
ExistingEcsServiceName). Everything after that is the ordinary demo: its fleet simulation drives the
user's group or service through the same APIs (SetDesiredCapacity, UpdateService) that it drives the
stack's own, and the consumer on each instance or task is our worker, as a team would run it to get
scale-in protection and drain on termination (docs/attach.md, "our worker as a wrapper").
"""

from __future__ import annotations

from collections.abc import Callable

from qas import emulator
from qas.model.control_plane import Platform

# Names a team might have chosen; none of them derives from the stack's name.
GROUP = "their-workers"
CLUSTER = "their-cluster"
SERVICE = "their-workers"
# The group's DefaultInstanceWarmup, as the stack's own group has it; moto keeps none, so the demo's
# model takes it from here (the stack's own group: from the template).
GROUP_WARMUP_S = 60


def attach_parameters(platform: Platform) -> dict[str, str]:
    """The stack parameters that attach the stack to the fleet `create_fleet` builds."""
    return dict(ATTACH_PARAMETERS[platform])


def create_fleet(endpoint: str, platform: Platform, max_capacity: int) -> dict[str, str]:
    """Create the user's fleet at 0 on the emulator, outside any stack; returns the network
    parameters (the stack ignores them in attach mode, but SubnetIds has no default)."""
    network = emulator.create_network(endpoint, "their")
    CREATE_FLEET[platform](endpoint, network, max_capacity)
    return {"SubnetIds": ",".join(network.subnet_ids), "SecurityGroupIds": network.security_group_id}


def _create_group(endpoint: str, network: emulator.Network, max_capacity: int) -> None:
    ec2 = emulator.client(endpoint, "ec2")
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"{GROUP}-template",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "c6i.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    emulator.client(endpoint, "autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        MinSize=0,
        MaxSize=max_capacity,
        DesiredCapacity=0,
        DefaultInstanceWarmup=GROUP_WARMUP_S,
        VPCZoneIdentifier=",".join(network.subnet_ids),
    )


def _create_service(endpoint: str, network: emulator.Network) -> None:
    ecs = emulator.client(endpoint, "ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    task_definition = ecs.register_task_definition(
        family=f"{SERVICE}-task",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[{"name": "consumer", "image": "their-registry/consumer:1", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=task_definition,
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(network.subnet_ids),
                "securityGroups": [network.security_group_id],
                "assignPublicIp": "DISABLED",
            }
        },
    )


# Each platform's existing fleet, as the demo builds it and the stack's parameters name it
# (tests/architecture/test_platform_seam.py: one per platform).
ATTACH_PARAMETERS: dict[Platform, dict[str, str]] = {
    Platform.EC2: {"ExistingAutoScalingGroupName": GROUP},
    Platform.ECS: {"ExistingEcsClusterName": CLUSTER, "ExistingEcsServiceName": SERVICE},
}
CREATE_FLEET: dict[Platform, Callable[[str, emulator.Network, int], None]] = {
    Platform.EC2: _create_group,
    Platform.ECS: lambda endpoint, network, max_capacity: _create_service(endpoint, network),
}
