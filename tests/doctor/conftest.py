"""An account on moto with the network a worker fleet needs, and ways to break each piece of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from qas.doctor import network

REGION = "us-east-1"


@dataclass
class Account:
    session: boto3.Session
    vpc_id: str
    nat_subnets: list[str]
    public_subnet: str
    isolated_subnet: str
    isolated_table: str
    security_group: str
    overrides: dict[str, Any] = field(default_factory=dict)  # service name -> client (stubbed)

    # Quacks like boto3.Session for the doctor: region_name and client().
    @property
    def region_name(self) -> str:
        return REGION

    def client(self, name: str) -> Any:
        return self.overrides.get(name) or self.session.client(name)  # type: ignore[call-overload]

    def add_endpoints(self, services: tuple[str, ...]) -> None:
        ec2 = self.session.client("ec2")
        for service in services:
            if service == "s3":
                ec2.create_vpc_endpoint(
                    VpcId=self.vpc_id,
                    ServiceName=f"com.amazonaws.{REGION}.s3",
                    VpcEndpointType="Gateway",
                    RouteTableIds=[self.isolated_table],
                )
            else:
                ec2.create_vpc_endpoint(
                    VpcId=self.vpc_id,
                    ServiceName=f"com.amazonaws.{REGION}.{service}",
                    VpcEndpointType="Interface",
                    SubnetIds=[self.isolated_subnet],
                    PrivateDnsEnabled=True,
                )


def _route_table(ec2: Any, vpc_id: str, subnet_id: str, **route: str) -> str:
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
    if route:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", **route)
    return str(table)


@pytest.fixture
def account() -> Iterator[Account]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        ec2 = session.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

        def subnet(cidr: str, zone: str) -> str:
            return str(
                ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"][
                    "SubnetId"
                ]
            )

        public = subnet("10.0.0.0/24", "a")
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        _route_table(ec2, vpc, public, GatewayId=igw)
        nat = ec2.create_nat_gateway(SubnetId=public)["NatGateway"]["NatGatewayId"]
        private = [subnet("10.0.1.0/24", "a"), subnet("10.0.2.0/24", "b")]
        for subnet_id in private:
            _route_table(ec2, vpc, subnet_id, NatGatewayId=nat)
        isolated = subnet("10.0.3.0/24", "b")
        isolated_table = _route_table(ec2, vpc, isolated)
        group = ec2.create_security_group(GroupName="workers", Description="workers", VpcId=vpc)["GroupId"]
        yield Account(session, vpc, private, public, isolated, isolated_table, group)


ALL_SERVICES = network.COMMON_SERVICES + network.EC2_SERVICES
