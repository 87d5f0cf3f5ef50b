"""``kubeplane vpc``: create, describe, delete a simulated VPC, and run commands inside it.

``vpc exec`` is the bastion host: it launches (once) a small instance in the chosen zone and runs
the command in its network namespace, so the command sees the VPC as an EC2 host would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from kubeplane.cli.output import CommandError, add_output_flag, console, print_json
from kubeplane.cli.state import ClusterPaths, kubeplane_home
from kubeplane.network.vpc import DEFAULT_CIDR, DEFAULT_REGION, NotFound, Vpc, VpcError, VpcService
from kubeplane.network.vpc import names as kernel_names


def vpc_state_root(name: str = "") -> Path:
    """Where VPC ``name`` keeps its state: inside its cluster's directory when a cluster of that
    name made it (``kubeplane up --nodes``), else ``$KUBEPLANE_HOME/vpcs``."""
    with contextlib.suppress(CommandError):  # not a valid cluster name: a standalone VPC
        cluster_vpcs = ClusterPaths.for_name(name).vpc_state if name else None
        if cluster_vpcs is not None and (cluster_vpcs / name).exists():
            return cluster_vpcs
    return kubeplane_home() / "vpcs"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("vpc", help="simulated VPCs: subnets per zone, instances, ENIs")
    actions = parser.add_subparsers(dest="vpc_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a VPC (or re-apply an existing one to the kernel)")
    create.add_argument("--name", required=True, help="VPC name")
    create.add_argument("--cidr", default=DEFAULT_CIDR, help=f"VPC CIDR inside 198.18.0.0/16 (default {DEFAULT_CIDR})")
    create.add_argument("--region", default=DEFAULT_REGION, help=f"region of the zones (default {DEFAULT_REGION})")
    add_output_flag(create)
    create.set_defaults(run=_guarded(run_create))

    describe = actions.add_parser("describe", help="show subnets, instances, ENIs and addresses")
    describe.add_argument("--name", required=True, help="VPC name")
    add_output_flag(describe)
    describe.set_defaults(run=_guarded(run_describe))

    delete = actions.add_parser("delete", help="delete every namespace and link of a VPC, and its state")
    delete.add_argument("--name", required=True, help="VPC name")
    add_output_flag(delete)
    delete.set_defaults(run=_guarded(run_delete))

    execute = actions.add_parser("exec", help="run a command on the VPC's bastion host: exec --name N -- CMD...")
    execute.add_argument("--name", required=True, help="VPC name")
    where = execute.add_mutually_exclusive_group()
    where.add_argument("--subnet-id", help="put the bastion in this subnet")
    where.add_argument("--zone", help="put the bastion in this zone (us-east-1b, or just b)")
    execute.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command and its arguments")
    execute.set_defaults(run=_guarded(run_exec))


# The brief's name for the same hook; main.py calls ``register`` on every command module.
add_parser = register


def run_create(args: argparse.Namespace, service: VpcService) -> int:
    vpc = service.create(args.name, args.cidr, args.region)
    if args.output == "json":
        print_json(describe_vpc(vpc))
    else:
        console.print(f"VPC [bold]{vpc.name}[/bold] ({vpc.id}, {vpc.cidr}) is up with subnets in "
                      f"{', '.join(vpc.zones)}")
    return 0


def run_describe(args: argparse.Namespace, service: VpcService) -> int:
    vpc = service.describe(args.name)
    if args.output == "json":
        print_json(describe_vpc(vpc))
    else:
        _print_vpc(vpc)
    return 0


def run_delete(args: argparse.Namespace, service: VpcService) -> int:
    existed = service.delete(args.name)
    if args.output == "json":
        print_json({"name": args.name, "removed": existed})
    elif existed:
        console.print(f"VPC [bold]{args.name}[/bold] and all its namespaces are deleted")
    else:
        console.print(f"VPC [bold]{args.name}[/bold] did not exist; nothing left behind")
    return 0


def run_exec(args: argparse.Namespace, service: VpcService) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise CommandError("vpc exec needs a command: kubeplane vpc exec --name N -- CMD [ARG...]", exit_code=2)
    bastion = service.bastion(args.name, zone=args.zone, subnet_id=args.subnet_id)
    try:
        return service.exec_in_instance(args.name, bastion.id, argv)
    except FileNotFoundError as err:
        raise CommandError(f"cannot run {argv[0]!r}: {err.strerror}", exit_code=127) from None


def describe_vpc(vpc: Vpc) -> dict[str, Any]:
    """The machine-readable description: the stored state plus what is derived from it."""
    subnets = []
    for subnet in vpc.subnets:
        subnets.append({
            "subnetId": subnet.id, "availabilityZone": subnet.zone, "cidrBlock": subnet.cidr,
            "gateway": subnet.gateway,
            "availableIpAddressCount": len(subnet.assignable()) - len(vpc.used_addresses(subnet.id)),
        })
    interfaces = [{
        "networkInterfaceId": eni.id, "subnetId": eni.subnet_id, "macAddress": eni.mac,
        "privateIpAddress": eni.primary_ip, "secondaryPrivateIpAddresses": list(eni.secondary_ips),
        "attachment": None if eni.instance_id is None else
        {"instanceId": eni.instance_id, "deviceIndex": eni.device_index},
        "description": eni.description,
    } for eni in vpc.enis]
    instances = [{
        "instanceId": instance.id, "name": instance.name, "role": instance.role,
        "availabilityZone": instance.zone, "subnetId": instance.subnet_id,
        "privateIpAddress": vpc.primary_eni(instance.id).primary_ip,
        "netns": kernel_names.instance_netns(vpc.name, instance.id),
        "networkInterfaces": [eni.id for eni in vpc.enis_of(instance.id)],
    } for instance in vpc.instances]
    return {"name": vpc.name, "vpcId": vpc.id, "cidrBlock": vpc.cidr, "region": vpc.region,
            "routerNetns": kernel_names.router_netns(vpc.name), "subnets": subnets,
            "instances": instances, "networkInterfaces": interfaces}


def _print_vpc(vpc: Vpc) -> None:
    data = describe_vpc(vpc)
    console.print(f"VPC [bold]{vpc.name}[/bold]  {vpc.id}  {vpc.cidr}  router netns {data['routerNetns']}")
    subnets = Table("SUBNET", "ZONE", "CIDR", "GATEWAY", "FREE IPS", box=None)
    for subnet in data["subnets"]:
        subnets.add_row(subnet["subnetId"], subnet["availabilityZone"], subnet["cidrBlock"], subnet["gateway"],
                        str(subnet["availableIpAddressCount"]))
    console.print(subnets)
    if vpc.instances:
        instances = Table("INSTANCE", "ROLE", "ZONE", "ENI", "DEV", "MAC", "ADDRESSES", box=None)
        for instance in vpc.instances:
            for eni in vpc.enis_of(instance.id):
                instances.add_row(instance.id, instance.role, instance.zone, eni.id, f"eth{eni.device_index}",
                                  eni.mac, ", ".join(eni.addresses))
        console.print(instances)


def _guarded(handler: Callable[[argparse.Namespace, VpcService], int]) -> Callable[[argparse.Namespace], int]:
    """Common to every action: root check, the state root, and model errors as command errors."""
    def run(args: argparse.Namespace) -> int:
        if os.geteuid() != 0:
            raise CommandError("kubeplane vpc manages network namespaces and must run as root")
        try:
            return handler(args, VpcService(vpc_state_root(getattr(args, "name", ""))))
        except NotFound as err:
            raise CommandError(str(err), exit_code=1) from None
        except VpcError as err:
            raise CommandError(str(err), exit_code=2) from None
    return run
