"""Test-side control of a moto server: the cloud the AWS tests deploy to.

    motoctl.py ENDPOINT network CIDR            -> {"vpc": ..., "subnet": ...}
    motoctl.py ENDPOINT launch SUBNET DEPLOYMENT ENVIRONMENT ROLE COUNT
                                                -> [{"id": ..., "ip": ...}, ...]
    motoctl.py ENDPOINT terminate ID...
    motoctl.py ENDPOINT instances               -> [{"id", "state", "ip", "tags"}, ...]
    motoctl.py ENDPOINT group NAME SUBNET DEPLOYMENT ENVIRONMENT ROLE SIZE [TARGET_GROUP]
    motoctl.py ENDPOINT targets TARGET_GROUP    -> [{"id", "state"}, ...]
    motoctl.py ENDPOINT target-group NAME SUBNET ID...  -> {"arn": ...} (instances registered)
                                                -> {"template": ..., "instances": [...]}
    motoctl.py ENDPOINT group-state NAME        -> {"suspended": [...], "desired": N, ...}
    motoctl.py ENDPOINT state                   -> {"images": [...], "instances": [...]}
    motoctl.py ENDPOINT images                  -> [{"id", "name", "state", "tags"}, ...] (this account's)
    motoctl.py ENDPOINT template-versions NAME  -> [{"version", "image", "description"}, ...]

Uses boto3 (installed with moto) as an independent client, so the tests do not
check deployer's AWS calls with deployer's own. Instances go only into the
subnet given, whose CIDR the caller chooses inside 127.0.0.0/8: moto then hands
out loopback addresses, which the fleet turns into real sshd hosts.
"""

import json
import sys

import boto3

BASE_IMAGE = "ami-03cf127a"


def client(endpoint, service="ec2"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def network(ec2, subnet_cidr):
    """A VPC (the /16 around `subnet_cidr`, a /24) with that one subnet."""
    octets = subnet_cidr.split("/")[0].split(".")
    vpc_cidr = f"{octets[0]}.{octets[1]}.0.0/16"
    vpc = ec2.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    return {"vpc": vpc, "subnet": subnet}


def launch(ec2, subnet, deployment, environment, role, count):
    tags = [
        {"Key": "deployment", "Value": deployment},
        {"Key": "environment", "Value": environment},
        {"Key": "role", "Value": role},
        {"Key": "Name", "Value": f"{deployment}_{environment}_{role}"},
    ]
    reservation = ec2.run_instances(
        ImageId=BASE_IMAGE,
        MinCount=int(count),
        MaxCount=int(count),
        InstanceType="t3.micro",
        SubnetId=subnet,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return [{"id": i["InstanceId"], "ip": i["PrivateIpAddress"]} for i in reservation["Instances"]]


def autoscaling(endpoint):
    return client(endpoint, "autoscaling")


def group(ec2, endpoint, name, subnet, deployment, environment, role, size, target_group=None):
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-template",
        LaunchTemplateData={"ImageId": BASE_IMAGE, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    tags = {"deployment": deployment, "environment": environment, "role": role}
    balancing = {}
    if target_group:
        vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
        arn = client(endpoint, "elbv2").create_target_group(
            Name=target_group, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        balancing = {"TargetGroupARNs": [arn]}
    autoscaling(endpoint).create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=int(size),
        MaxSize=int(size) * 2,
        DesiredCapacity=int(size),
        VPCZoneIdentifier=subnet,
        **balancing,
        Tags=[
            {"Key": key, "Value": value, "PropagateAtLaunch": True, "ResourceId": name, "ResourceType": "auto-scaling-group"}
            for key, value in tags.items()
        ],
    )
    return {"template": template, "instances": group_state(endpoint, name)["instances"]}


def target_group(ec2, endpoint, name, subnet, *ids):
    """A target group of instances (no Auto Scaling group) with `ids` registered."""
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    elbv2 = client(endpoint, "elbv2")
    arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    if ids:
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance} for instance in ids])
    return {"arn": arn}


def group_state(endpoint, name):
    groups = autoscaling(endpoint).describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        return None
    found = groups[0]
    return {
        "suspended": sorted(p["ProcessName"] for p in found.get("SuspendedProcesses", [])),
        "min": found["MinSize"],
        "desired": found["DesiredCapacity"],
        "max": found["MaxSize"],
        "instances": sorted(i["InstanceId"] for i in found.get("Instances", [])),
        "version": found.get("LaunchTemplate", {}).get("Version"),
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
    }


def targets(endpoint, name):
    elbv2 = client(endpoint, "elbv2")
    arn = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return sorted(
        ({"id": t["Target"]["Id"], "state": t["TargetHealth"]["State"]} for t in found), key=lambda t: t["id"]
    )


def instances(ec2):
    found = []
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for i in reservation["Instances"]:
                found.append(
                    {
                        "id": i["InstanceId"],
                        "state": i["State"]["Name"],
                        "ip": i.get("PrivateIpAddress"),
                        "image": i.get("ImageId"),
                        "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                    }
                )
    return found


def images(ec2):
    found = ec2.describe_images(Owners=["self"])["Images"]
    return sorted(
        (
            {
                "id": i["ImageId"],
                "name": i.get("Name"),
                "state": i.get("State"),
                "source": i.get("SourceInstanceId"),
                "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
            }
            for i in found
        ),
        key=lambda image: image["id"],
    )


def template_versions(ec2, name):
    found = ec2.describe_launch_template_versions(LaunchTemplateName=name)["LaunchTemplateVersions"]
    return sorted(
        (
            {
                "version": v["VersionNumber"],
                "image": v.get("LaunchTemplateData", {}).get("ImageId"),
                "description": v.get("VersionDescription"),
            }
            for v in found
        ),
        key=lambda version: version["version"],
    )


def main():
    endpoint, command, *args = sys.argv[1:]
    ec2 = client(endpoint)
    if command == "network":
        result = network(ec2, *args)
    elif command == "launch":
        result = launch(ec2, *args)
    elif command == "terminate":
        ec2.terminate_instances(InstanceIds=args)
        result = args
    elif command == "group":
        result = group(ec2, endpoint, *args)
    elif command == "target-group":
        result = target_group(ec2, endpoint, *args)
    elif command == "group-state":
        result = group_state(endpoint, *args)
    elif command == "instances":
        result = instances(ec2)
    elif command == "state":
        result = {"images": images(ec2), "instances": instances(ec2)}
    elif command == "targets":
        result = targets(endpoint, *args)
    elif command == "images":
        result = images(ec2)
    elif command == "template-versions":
        result = template_versions(ec2, *args)
    else:
        sys.exit(f"unknown command {command}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
