"""The template deployed with CloudFormation on a moto server: what moto creates, on both platforms."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from qas import emulator
from tests.template.conftest import aws, deployed

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(f"ignore:{emulator.SKIPPED_WARNING}")]

FUNCTIONS = ("MetricPublisherFunction", "TargetTunerFunction", "ProducerFunction")


def _environment(stack: emulator.DeployedStack, output: str) -> dict[str, str]:
    config = aws(stack, "lambda").get_function_configuration(FunctionName=stack.outputs[output])
    return dict(config["Environment"]["Variables"])


def test_outputs_are_the_contract(stack: emulator.DeployedStack) -> None:
    expected = {
        "QueueUrl",
        "DeadLetterQueueUrl",
        "FleetName",
        "ScalingPolicyName",
        "MetricPublisherFunction",
        "TargetTunerFunction",
        "ProducerFunction",
        "ProducerRuleName",
        "EnableProducerCommand",
        "DashboardUrl",
        "WorkerRepositoryUri",
    }
    if stack.platform == "ECS":
        expected.add("ClusterName")
    assert set(stack.outputs) == expected
    assert stack.outputs["FleetName"] == f"{stack.stack_name}-workers"
    assert stack.outputs["EnableProducerCommand"] == (
        f"aws events enable-rule --name {stack.outputs['ProducerRuleName']} --region {emulator.REGION}"
    )
    repository = stack.outputs["WorkerRepositoryUri"].split("/", 1)[1]
    (described,) = aws(stack, "ecr").describe_repositories(repositoryNames=[repository])["repositories"]
    assert described["repositoryUri"] == stack.outputs["WorkerRepositoryUri"]
    assert described["imageTagMutability"] == "IMMUTABLE"
    # moto's CloudFormation drops the scanning configuration: checked on the template.
    props = stack.template["Resources"]["WorkerRepository"]["Properties"]
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    policy = json.loads(emulator.resolve(stack, props["LifecyclePolicy"]["LifecyclePolicyText"]))
    assert {rule["action"]["type"] for rule in policy["rules"]} == {"expire"}


def test_queue_is_encrypted_with_redrive_to_the_dlq(stack: emulator.DeployedStack) -> None:
    sqs = aws(stack, "sqs")
    queue = sqs.get_queue_attributes(QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=stack.outputs["DeadLetterQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert dlq["SqsManagedSseEnabled"] == "true"
    assert queue["VisibilityTimeout"] == stack.parameters["WorkerVisibilityTimeout"] == "60"
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_functions_point_at_the_created_resources(stack: emulator.DeployedStack) -> None:
    publisher = _environment(stack, "MetricPublisherFunction")
    tuner = _environment(stack, "TargetTunerFunction")
    producer = _environment(stack, "ProducerFunction")
    fleet = stack.outputs["FleetName"]

    for env in (publisher, tuner, producer):
        assert env["POWERTOOLS_SERVICE_NAME"] == "queue-autoscaler"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "QueueAutoscaler"
    assert publisher["QUEUE_URL"] == producer["QUEUE_URL"] == stack.outputs["QueueUrl"]
    assert publisher["FLEET_NAME"] == tuner["FLEET_NAME"] == fleet
    assert publisher["FLEET_PLATFORM"] == tuner["FLEET_PLATFORM"] == stack.platform
    assert publisher["HIGH_RESOLUTION"] == "false"
    assert tuner["SCALING_POLICY_NAME"] == stack.outputs["ScalingPolicyName"]
    assert float(tuner["LATENCY_SLO_SECONDS"]) == 300
    assert json.loads(producer["PRODUCER_DISTRIBUTION"])["kind"] == "lognormal"

    # The names resolve to real resources on the emulator.
    if stack.platform == "EC2":
        assert publisher["ECS_CLUSTER"] == ""
        groups = aws(stack, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[fleet])
        assert len(groups["AutoScalingGroups"]) == 1
        policies = aws(stack, "autoscaling").describe_policies(
            AutoScalingGroupName=fleet, PolicyNames=[tuner["SCALING_POLICY_NAME"]]
        )["ScalingPolicies"]
        assert [policy["PolicyType"] for policy in policies] == ["TargetTrackingScaling"]
    else:
        assert publisher["ECS_CLUSTER"] == tuner["ECS_CLUSTER"] == stack.outputs["ClusterName"]
        services = aws(stack, "ecs").describe_services(cluster=publisher["ECS_CLUSTER"], services=[fleet])
        assert [service["serviceName"] for service in services["services"]] == [fleet]
        policies = aws(stack, "application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")
        names = {policy["PolicyName"]: policy["PolicyType"] for policy in policies["ScalingPolicies"]}
        assert names[tuner["SCALING_POLICY_NAME"]] == "TargetTrackingScaling"


def test_three_schedules_and_the_producer_is_disabled(stack: emulator.DeployedStack) -> None:
    events = aws(stack, "events")
    listed = events.list_rules(NamePrefix=stack.stack_name)["Rules"]
    # Schedules only: the EC2 fleet-rollout rule matches events (tests/template/test_day2.py).
    rules = {rule["Name"]: rule for rule in listed if "ScheduleExpression" in rule}
    publisher_rule = f"{stack.stack_name}-metric-publisher"
    tuner_rule = f"{stack.stack_name}-target-tuner"
    producer_rule = stack.outputs["ProducerRuleName"]
    assert set(rules) == {publisher_rule, tuner_rule, producer_rule}
    assert rules[publisher_rule]["ScheduleExpression"] == "rate(1 minute)"
    assert rules[tuner_rule]["ScheduleExpression"] == "rate(5 minutes)"  # TunerSchedule's default
    assert rules[producer_rule]["ScheduleExpression"] == "rate(1 minute)"
    assert rules[publisher_rule]["State"] == "ENABLED"
    assert rules[tuner_rule]["State"] == "ENABLED"
    assert rules[producer_rule]["State"] == "DISABLED"

    functions = {
        publisher_rule: stack.outputs["MetricPublisherFunction"],
        tuner_rule: stack.outputs["TargetTunerFunction"],
        producer_rule: stack.outputs["ProducerFunction"],
    }
    for rule, function in functions.items():
        (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
        assert target["Arn"].endswith(f":function:{function}")
    (producer_target,) = events.list_targets_by_rule(Rule=producer_rule)["Targets"]
    event = json.loads(producer_target["Input"])
    assert event["count"] == 20
    assert event["distribution"] == {"kind": "lognormal", "mean_seconds": 20, "sigma": 0.5}


def test_the_enable_command_flips_the_producer_rule(server: emulator.EmulatorServer) -> None:
    # On a stack of its own: enabling the rule would change what the shared stack's readers see.
    own = deployed(server, "producer-switch", {}, "EC2", materialize=False)
    events = aws(own, "events")
    command = own.outputs["EnableProducerCommand"].split()
    assert command[:4] == ["aws", "events", "enable-rule", "--name"]
    events.enable_rule(Name=command[4])
    assert events.describe_rule(Name=own.outputs["ProducerRuleName"])["State"] == "ENABLED"


def test_log_groups_have_retention(stack: emulator.DeployedStack) -> None:
    groups = aws(stack, "logs").describe_log_groups()["logGroups"]
    retention = {group["logGroupName"]: group.get("retentionInDays") for group in groups}
    for output in FUNCTIONS:
        assert retention[f"/aws/lambda/{stack.outputs[output]}"] == 30
    assert retention[f"/queue-autoscaler/{stack.stack_name}/workers"] == 30


def test_fleet_starts_empty(stack: emulator.DeployedStack) -> None:
    fleet = stack.outputs["FleetName"]
    if stack.platform == "EC2":
        _check_ec2_fleet(stack, fleet)
    else:
        _check_ecs_fleet(stack, fleet)


def _check_ec2_fleet(stack: emulator.DeployedStack, fleet: str) -> None:
    (group,) = aws(stack, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[fleet])[
        "AutoScalingGroups"
    ]
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (0, 0, 10)
    assert group["Instances"] == []
    assert len(group["VPCZoneIdentifier"].split(",")) == 2
    mixed = group["MixedInstancesPolicy"]
    overrides = [item["InstanceType"] for item in mixed["LaunchTemplate"]["Overrides"]]
    assert overrides == ["c6i.large", "c5.large", "c6a.large", "m6i.large"]
    distribution = mixed["InstancesDistribution"]
    assert distribution["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert distribution["OnDemandPercentageAboveBaseCapacity"] == 0

    template_id = mixed["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateId"]
    (version,) = aws(stack, "ec2").describe_launch_template_versions(LaunchTemplateId=template_id)[
        "LaunchTemplateVersions"
    ]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    ami = aws(stack, "ssm").get_parameter(Name=stack.parameters["WorkerAmiId"])["Parameter"]["Value"]
    assert data["ImageId"] == ami
    _check_user_data(stack, base64.b64decode(data["UserData"]).decode())

    # What moto's CloudFormation drops from the group is checked on the translated template.
    props = stack.template["Resources"]["WorkerGroup"]["Properties"]
    assert props["DefaultInstanceWarmup"] == 60
    assert props["CapacityRebalance"] is True
    assert "GroupDesiredCapacity" in props["MetricsCollection"][0]["Metrics"]
    assert stack.scaling is not None
    assert stack.scaling.instance_warmup_s == 60


def _check_user_data(stack: emulator.DeployedStack, script: str) -> None:
    """The boot script: valid bash, the worker's environment, a container systemd restarts."""
    syntax = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    env_file = script.split("<<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    env = dict(line.split("=", 1) for line in env_file.splitlines())
    assert env["QUEUE_URL"] == stack.outputs["QueueUrl"]
    assert env["FLEET_NAME"] == stack.outputs["FleetName"]
    assert env["WORKER_PLATFORM"] == "EC2"
    assert env["WORKER_VISIBILITY_TIMEOUT"] == stack.parameters["WorkerVisibilityTimeout"]
    grace = int(env["WORKER_SHUTDOWN_GRACE_SECONDS"])
    unit = script.split("<<'UNIT'\n", 1)[1].split("\nUNIT\n", 1)[0]
    assert "Restart=always" in unit
    image = f"{stack.outputs['WorkerRepositoryUri']}:{stack.parameters['WorkerImageTag']}"
    assert "--env-file /etc/queue-worker.env --stop-timeout 120 " in unit
    assert unit.rstrip().splitlines()[-1] == "WantedBy=multi-user.target"
    assert image in unit
    # SIGTERM, then the worker's grace, well inside docker's stop timeout, inside systemd's.
    assert grace < 120 < int(unit.split("TimeoutStopSec=", 1)[1].split()[0])


def _check_ecs_fleet(stack: emulator.DeployedStack, fleet: str) -> None:
    ecs = aws(stack, "ecs")
    (service,) = ecs.describe_services(cluster=stack.outputs["ClusterName"], services=[fleet])["services"]
    assert service["desiredCount"] == 0
    # moto's CloudFormation drops the network configuration and the capacity provider strategy.
    service_props = stack.template["Resources"]["WorkerService"]["Properties"]
    assert service_props["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    assert container["stopTimeout"] == 120
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["QUEUE_URL"] == stack.outputs["QueueUrl"]
    assert environment["FLEET_NAME"] == fleet
    assert environment["WORKER_PLATFORM"] == "ECS"
    assert environment["WORKER_VISIBILITY_TIMEOUT"] == "60"
    assert container["image"] == f"{stack.outputs['WorkerRepositoryUri']}:v1"

    assert stack.scaling is not None and stack.scaling.scalable_target is not None
    (target,) = aws(stack, "application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")[
        "ScalableTargets"
    ]
    assert target["ResourceId"] == f"service/{stack.outputs['ClusterName']}/{fleet}"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 10)
    strategy = service_props["CapacityProviderStrategy"]
    assert strategy[0]["CapacityProvider"] == {"Fn::If": ["FargateSpot", "FARGATE_SPOT", "FARGATE"]}


def test_fifo_queue_option(server: emulator.EmulatorServer) -> None:
    stack = emulator.deploy(server.endpoint, "qas-fifo", {"QueueType": "FIFO"}, "ECS", materialize=False)
    sqs = aws(stack, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert stack.outputs["QueueUrl"].endswith("/qas-fifo-work.fifo")
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert stack.outputs["DeadLetterQueueUrl"].endswith("/qas-fifo-dlq.fifo")


def test_existing_queue_option(server: emulator.EmulatorServer) -> None:
    sqs = emulator.client(server.endpoint, "sqs", max_attempts=1)
    url = sqs.create_queue(QueueName="their-jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    stack = emulator.deploy(server.endpoint, "qas-existing", {"ExistingQueueArn": arn}, "EC2")

    # The template builds the URL AWS gives that queue; moto serves it under its own host.
    expected_url = f"https://sqs.{emulator.REGION}.amazonaws.com/{emulator.ACCOUNT_ID}/their-jobs"
    assert stack.outputs["QueueUrl"] == expected_url
    assert sqs.get_queue_attributes(QueueUrl=expected_url, AttributeNames=["QueueArn"])["Attributes"] == {
        "QueueArn": arn
    }
    assert stack.outputs["DeadLetterQueueUrl"] == "none"
    assert "WorkQueue" not in stack.physical_ids
    assert _environment(stack, "MetricPublisherFunction")["QUEUE_URL"] == expected_url
    assert url.endswith("/their-jobs")
    assert stack.scaling is not None
    assert "DeadLetterAlarm" not in stack.scaling.alarms
    slo = stack.scaling.alarms["SloBreachAlarm"]
    assert slo.dimensions == {"QueueName": "their-jobs"}
