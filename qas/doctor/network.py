"""Can the workers reach AWS? Subnet routes (NAT or VPC endpoints) and security-group egress on 443.

Workers get no public IP (AssignPublicIp DISABLED, AssociatePublicIpAddress false), so an internet
gateway route does not help them: they need a NAT gateway, or an endpoint for every service they call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qas.doctor.findings import Finding, note, ok, problem
from queue_autoscaler.common.platform import Platform

# What the workers (and, on EC2, the instance's agents) call. S3 serves ECR's image layers and the
# Amazon Linux package repositories; Session Manager needs ssm, ssmmessages and ec2messages
# (https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html).
COMMON_SERVICES = ("sqs", "ecr.api", "ecr.dkr", "s3", "logs", "monitoring")
EC2_SERVICES = ("autoscaling", "ssm", "ssmmessages", "ec2messages")
# What each platform's members call beyond COMMON_SERVICES (tests/architecture/test_platform_seam.py: every
# platform has an entry).
PLATFORM_SERVICES: dict[Platform, tuple[str, ...]] = {Platform.EC2: EC2_SERVICES, Platform.ECS: ()}
CHECK = "network"


def required_services(platform: str) -> tuple[str, ...]:
    return COMMON_SERVICES + PLATFORM_SERVICES[Platform(platform)]


def check_subnets(ec2: Any, subnet_ids: Sequence[str], platform: str, region: str) -> list[Finding]:
    if not subnet_ids:
        fix = "add SubnetIds=subnet-a,subnet-b to parameter_overrides"
        return [problem(CHECK, "SubnetIds is empty", fix)]
    try:
        subnets = ec2.describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
    except ec2.exceptions.ClientError as err:
        return [problem(CHECK, f"SubnetIds: {err}", "list existing subnets: aws ec2 describe-subnets")]
    findings: list[Finding] = []
    for subnet in subnets:
        findings.append(_check_subnet(ec2, subnet, platform, region))
    if len({subnet["AvailabilityZone"] for subnet in subnets}) < 2:
        findings.append(
            note(CHECK, "all SubnetIds are in one Availability Zone", "add a subnet in a second zone")
        )
    return findings


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any] | None:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:  # no explicit association: the VPC's main table applies
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    return tables[0] if tables else None


def _check_subnet(ec2: Any, subnet: dict[str, Any], platform: str, region: str) -> Finding:
    subnet_id, vpc_id = subnet["SubnetId"], subnet["VpcId"]
    table = _route_table(ec2, subnet)
    routes = table.get("Routes", []) if table else []
    default = next((r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
    if default and default.get("NatGatewayId") and default.get("State", "active") == "active":
        return ok(CHECK, f"{subnet_id} reaches AWS through {default['NatGatewayId']}")
    if default and any(default.get(key) for key in ("TransitGatewayId", "NetworkInterfaceId", "InstanceId")):
        return note(CHECK, f"{subnet_id} sends 0.0.0.0/0 to a transit gateway or appliance; not verified")
    missing = _missing_endpoints(ec2, vpc_id, table, platform, region)
    if not missing:
        return ok(CHECK, f"{subnet_id} reaches AWS through VPC endpoints")
    via = "an internet gateway, but workers get no public IP" if default else "nothing (no default route)"
    return problem(
        CHECK,
        f"{subnet_id} routes 0.0.0.0/0 to {via}, and VPC {vpc_id} lacks endpoints for {', '.join(missing)}",
        "use private subnets with a NAT gateway, or create the endpoints: aws ec2 create-vpc-endpoint"
        f" --vpc-id {vpc_id} --vpc-endpoint-type Interface --private-dns-enabled --service-name"
        f" com.amazonaws.{region}.<service> --subnet-ids ... (s3: --vpc-endpoint-type Gateway"
        " --route-table-ids ...)",
    )


def _missing_endpoints(
    ec2: Any, vpc_id: str, table: dict[str, Any] | None, platform: str, region: str
) -> list[str]:
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    present = set()
    table_id = table.get("RouteTableId") if table else None
    for endpoint in endpoints:
        if endpoint.get("State", "available").lower() not in ("available", "pending"):
            continue
        service = endpoint["ServiceName"].removeprefix(f"com.amazonaws.{region}.")
        # A gateway endpoint (S3) only serves the route tables it is attached to.
        if endpoint.get("VpcEndpointType") == "Gateway" and table_id not in endpoint.get("RouteTableIds", []):
            continue
        present.add(service)
    return [service for service in required_services(platform) if service not in present]


def _allows_https(permission: dict[str, Any]) -> bool:
    protocol = str(permission.get("IpProtocol"))
    if protocol == "-1":
        return True
    low, high = permission.get("FromPort", 0), permission.get("ToPort", 65535)
    return protocol in ("tcp", "6") and low <= 443 <= high


def check_security_groups(ec2: Any, group_ids: Sequence[str]) -> list[Finding]:
    check = "security group"
    if not group_ids:
        return [problem(check, "SecurityGroupIds is empty", "add SecurityGroupIds=sg-... to the overrides")]
    try:
        groups = ec2.describe_security_groups(GroupIds=list(group_ids))["SecurityGroups"]
    except ec2.exceptions.ClientError as err:
        return [problem(check, f"SecurityGroupIds: {err}", "list them: aws ec2 describe-security-groups")]
    egress = [permission for group in groups for permission in group.get("IpPermissionsEgress", [])]
    if any(_allows_https(permission) for permission in egress):
        return [ok(check, "outbound HTTPS (443) is allowed")]
    first = group_ids[0]
    return [
        problem(
            check,
            f"no rule of {', '.join(group_ids)} allows outbound TCP 443:"
            " workers cannot reach SQS, ECR or CloudWatch",
            f"aws ec2 authorize-security-group-egress --group-id {first} --ip-permissions"
            " 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]'",
        )
    ]
