"""`qas doctor preflight` on moto: a ready account passes; each broken setup is one problem and its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from qas import emulator
from qas.doctor import cli, network, preflight
from qas.doctor.config import DeployConfig, parse_overrides, read_samconfig
from qas.doctor.findings import Finding, Severity, exit_code
from tests.doctor.conftest import ALL_SERVICES, REGION, Account

TEMPLATE = emulator.REPO_ROOT / "template.yaml"
STACK = "qas-dev"
REPOSITORY = "qas-dev-workerrepository"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"


def _deploy(account: Account, **parameters: str) -> DeployConfig:
    given = {
        "WorkerPlatform": "ECS",
        "SubnetIds": ",".join(account.nat_subnets),
        "SecurityGroupIds": account.security_group,
        **parameters,
    }
    return DeployConfig(env="dev", stack_name=STACK, region=REGION, parameters=given)


def _ready(account: Account, *, tags: tuple[str, ...] = ("v1",)) -> None:
    """An account that has used ECS, with the stack deployed once and the image pushed."""
    account.session.client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    body = {
        "Resources": {
            "WorkerRepository": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": REPOSITORY}}
        }
    }
    account.session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(body))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {},
            "layers": [],
        }
    )
    for tag in tags:
        account.session.client("ecr").put_image(
            repositoryName=REPOSITORY, imageManifest=manifest, imageTag=tag
        )


def _run(account: Account, deploy: DeployConfig) -> list[Finding]:
    return preflight.run(account, deploy, TEMPLATE, sam_validate=False)


def _problems(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity is Severity.PROBLEM]


def test_a_ready_account_has_no_problem(account: Account) -> None:
    _ready(account)
    findings = _run(account, _deploy(account))
    assert _problems(findings) == [], findings
    assert exit_code(findings) == 0
    checks = {finding.check for finding in findings}
    assert {
        "parameters",
        "network",
        "security group",
        "ECS service-linked role",
        "worker image",
        "quotas",
    } <= checks
    # moto's Service Quotas knows no Fargate quota: reported as unknown, not as fine.
    (quota,) = [finding for finding in findings if finding.check == "quotas"]
    assert quota.severity is Severity.NOTE and "could not be read" in quota.what


def _only_problem(findings: list[Finding], check: str, *words: str) -> Finding:
    problems = _problems(findings)
    assert [p.check for p in problems] == [check], problems
    (found,) = problems
    assert all(word in found.what + " " + found.fix for word in words), found
    assert found.fix
    assert exit_code(findings) == 1
    return found


def test_no_ecs_service_linked_role(account: Account) -> None:
    _ready(account)
    iam = account.session.client("iam")
    for role in iam.list_roles(PathPrefix=preflight.SERVICE_LINKED_ROLE_PATH)["Roles"]:
        iam.delete_role(RoleName=role["RoleName"])
    found = _only_problem(
        _run(account, _deploy(account)),
        "ECS service-linked role",
        "create-service-linked-role --aws-service-name ecs.amazonaws.com",
    )
    # The stack no longer offers to create it (that raced the cluster): the command is the only fix.
    assert "CreateEcsServiceLinkedRole" not in found.fix
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    assert _problems(_run(account, _deploy(account))) == []


def test_a_queue_in_another_region_is_refused_before_the_deploy(account: Account) -> None:
    _ready(account)
    far = "arn:aws:sqs:eu-west-1:123456789012:jobs"
    _only_problem(
        _run(account, _deploy(account, ExistingQueueArn=far)), "queue region", far, "--region eu-west-1"
    )
    near = f"arn:aws:sqs:{REGION}:123456789012:jobs"
    _only_problem(
        _run(account, _deploy(account, ExistingQueueArn=near, ExtraQueueArns=f"{near}-2,{far}")),
        "queue region",
        "ExtraQueueArns",
        far,
    )
    findings = _run(account, _deploy(account, ExistingQueueArn=near))
    assert _problems(findings) == []
    (region,) = [finding for finding in findings if finding.check == "queue region"]
    assert region.severity is Severity.OK and REGION in region.what


def test_subnet_with_only_an_internet_gateway(account: Account) -> None:
    _ready(account)
    found = _only_problem(
        _run(account, _deploy(account, SubnetIds=account.public_subnet)), "network", "internet gateway", "NAT"
    )
    assert account.public_subnet in found.what


def test_isolated_subnet_needs_every_endpoint(account: Account) -> None:
    _ready(account)
    deploy = _deploy(account, WorkerPlatform="EC2", SubnetIds=account.isolated_subnet)
    account.add_endpoints(tuple(s for s in ALL_SERVICES if s not in ("ssmmessages", "s3")))
    found = _only_problem(_run(account, deploy), "network", "create-vpc-endpoint")
    assert "lacks endpoints for s3, ssmmessages" in found.what
    account.add_endpoints(("ssmmessages", "s3"))
    assert _problems(_run(account, deploy)) == []


def test_an_s3_gateway_endpoint_serves_only_its_route_tables(account: Account) -> None:
    ec2 = account.session.client("ec2")
    other = ec2.create_route_table(VpcId=account.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(
        VpcId=account.vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[other],
    )
    account.add_endpoints(tuple(s for s in network.required_services("ECS") if s != "s3"))
    finding, one_zone = network.check_subnets(ec2, [account.isolated_subnet], "ECS", REGION)
    assert one_zone.severity is Severity.NOTE
    assert finding.severity is Severity.PROBLEM and "endpoints for s3" in finding.what


def test_security_group_without_outbound_443(account: Account) -> None:
    _ready(account)
    ec2 = account.session.client("ec2")
    ec2.revoke_security_group_egress(
        GroupId=account.security_group,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_egress(
        GroupId=account.security_group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    _only_problem(_run(account, _deploy(account)), "security group", "authorize-security-group-egress", "443")


def test_image_tag_not_pushed(account: Account) -> None:
    _ready(account, tags=("v1",))
    _only_problem(
        _run(account, _deploy(account, WorkerImageTag="v2")), "worker image", f"{REPOSITORY}:v2", "push"
    )


def test_image_uri_of_this_account(account: Account) -> None:
    _ready(account)
    uri = f"{emulator.ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
    assert _problems(_run(account, _deploy(account, WorkerImageUri=f"{uri}:v1"))) == []
    _only_problem(
        _run(account, _deploy(account, WorkerImageUri=f"{uri}:nope")), "worker image", "not in the repository"
    )


def test_a_first_ecs_deploy_needs_the_fleet_off_until_the_image_is_pushed(account: Account) -> None:
    account.session.client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    # No stack yet: the service's first task could not pull an image from a repository the same
    # deploy creates, and the create would roll back.
    found = _only_problem(_run(account, _deploy(account)), "worker image", "first deploy", "MaxCapacity=0")
    assert "roll back" in found.what
    # With the fleet off, nothing waits for an image: the first deploy goes through.
    findings = _run(account, _deploy(account, MaxCapacity="0"))
    assert _problems(findings) == [] and exit_code(findings) == 0
    # EC2 starts at 0 instances anyway: a note on the order, not a problem.
    (image,) = [f for f in _run(account, _deploy(account, WorkerPlatform="EC2")) if f.check == "worker image"]
    assert image.severity is Severity.NOTE and "before messages arrive" in image.what


def test_a_fleet_that_is_off_needs_no_image_yet(account: Account) -> None:
    _ready(account, tags=("v1",))
    findings = _run(account, _deploy(account, WorkerImageTag="v2", MaxCapacity="0"))
    assert _problems(findings) == []


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"ExistingQueueKmsKeyArn": KEY_ARN}, ("QueueKeyNeedsExistingQueue",)),
        ({"UseFargateSpot": "maybe"}, ("UseFargateSpot", "true, false")),
        ({"WorkerImageTgs": "v1"}, ("WorkerImageTgs", "not a parameter")),
        # A Number's MinValue and MaxValue, which CloudFormation checks first (the warm pool's Rules are
        # the warm pool check's: tests/doctor/test_warm_pool.py).
        ({"WarmPoolSize": "0"}, ("WarmPoolSize=0", "outside 1..100")),
        ({"MaxReceiveCount": "1001"}, ("MaxReceiveCount=1001", "outside")),
        ({"ProducerMessagesPerMinute": "lots"}, ("ProducerMessagesPerMinute", "not a number")),
        # The quota checks multiply MaxCapacity: a bad one is named, not a crash.
        ({"MaxCapacity": "ten"}, ("MaxCapacity='ten'", "not a number")),
    ],
)
def test_invalid_parameters(account: Account, parameters: dict[str, str], words: tuple[str, ...]) -> None:
    _ready(account)
    _only_problem(_run(account, _deploy(account, **parameters)), "parameters", *words)


def test_missing_subnets_are_named(account: Account) -> None:
    _ready(account)
    deploy = _deploy(account)
    del deploy.parameters["SubnetIds"]
    problems = _problems(_run(account, deploy))
    assert any("SubnetIds has no default" in p.what for p in problems)


def test_quota_below_max_capacity_where_the_api_tells(account: Account) -> None:
    _ready(account)
    quotas = boto3.client("service-quotas", region_name=REGION)
    with Stubber(quotas) as stub:
        stub.add_response(
            "get_service_quota",
            {"Quota": {"QuotaCode": "L-36FBB829", "Value": 4.0}},
            {"ServiceCode": "fargate", "QuotaCode": "L-36FBB829"},
        )
        account.overrides["service-quotas"] = quotas
        # 20 tasks of 1 vCPU on Fargate Spot need 20 vCPUs.
        deploy = _deploy(account, UseFargateSpot="true", MaxCapacity="20", TaskCpu="1024", TaskMemory="2048")
        _only_problem(
            _run(account, deploy), "quotas", "20 vCPUs", "request-service-quota-increase", "L-36FBB829"
        )


def test_ec2_quotas_count_the_largest_type_and_the_on_demand_share(account: Account) -> None:
    quotas = boto3.client("service-quotas", region_name=REGION)
    with Stubber(quotas) as stub:
        stub.add_response(
            "get_service_quota",
            {"Quota": {"Value": 100.0}},
            {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"},
        )
        stub.add_response(
            "get_service_quota", {"Quota": {"Value": 8.0}}, {"ServiceCode": "ec2", "QuotaCode": "L-34B43A08"}
        )
        account.overrides["service-quotas"] = quotas
        deploy = _deploy(
            account,
            WorkerPlatform="EC2",
            InstanceTypes="c6i.large,m6i.xlarge",
            MaxCapacity="10",
            OnDemandPercentage="25",
        )
        context = preflight.Preflight(deploy, {**deploy.parameters}, REGION)
        on_demand, spot = preflight.check_quotas(account, context)
    # m6i.xlarge: 4 vCPUs; 10 of them = 40, a quarter On-Demand.
    assert on_demand.severity is Severity.OK and "10 vCPUs" in on_demand.what
    assert spot.severity is Severity.PROBLEM and "30 vCPUs" in spot.what


def test_samconfig_environments_are_read_as_sam_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text(
        'version = 0.1\n[dev.global.parameters]\nstack_name = "s"\n'
        '[dev.deploy.parameters]\nregion = "eu-west-1"\n'
        'parameter_overrides = "WorkerPlatform=ECS InitialTarget=30 AlarmEmail=\\"a@b.c\\""\n'
    )
    deploy = read_samconfig(path, "dev")
    assert (deploy.stack_name, deploy.region) == ("s", "eu-west-1")
    assert deploy.parameters == {"WorkerPlatform": "ECS", "InitialTarget": "30", "AlarmEmail": "a@b.c"}
    assert parse_overrides(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ValueError, match="no \\[prod\\]"):
        read_samconfig(path, "prod")
    # The repository's own environments name every parameter correctly.
    for env in ("default", "prod"):
        assert read_samconfig(emulator.REPO_ROOT / "samconfig.toml", env).parameters


def test_cli_honours_profile_and_exit_codes(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ready(account)
    (tmp_path / "config").write_text(
        f"[profile doctor]\nregion = {REGION}\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    overrides = [
        "WorkerPlatform=ECS",
        f"SubnetIds={','.join(account.nat_subnets)}",
        f"SecurityGroupIds={account.security_group}",
    ]
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        f'version = 0.1\n[dev.global.parameters]\nstack_name = "{STACK}"\n'
        f"[dev.deploy.parameters]\nparameter_overrides = {json.dumps(overrides)}\n"
    )
    argv = [
        "preflight",
        "--config-env",
        "dev",
        "--config-file",
        str(samconfig),
        "--no-sam-validate",
        "--profile",
        "doctor",
    ]

    assert cli.main(argv) == 0
    assert "FAIL" not in capsys.readouterr().out

    samconfig.write_text(samconfig.read_text().replace('ECS"', f'ECS", "ExistingQueueKmsKeyArn={KEY_ARN}"'))
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "[FAIL] parameters: rule QueueKeyNeedsExistingQueue" in out
    assert "fix: ExistingQueueKmsKeyArn is the key of an ExistingQueueArn" in out

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    assert cli.main([*argv[:-2], "--profile", "missing"]) == 2


@pytest.mark.slow
def test_sam_validate_lint_runs_offline(tmp_path: Path) -> None:
    assert preflight.check_sam_validate(TEMPLATE).severity is Severity.OK
    broken = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, broken)
    broken.write_text(broken.read_text().replace("Type: AWS::SQS::Queue", "Type: AWS::SQS::Queueue", 1))
    finding = preflight.check_sam_validate(broken)
    assert finding.severity is Severity.PROBLEM and "Queueue" in finding.what
