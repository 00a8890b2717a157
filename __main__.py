"""Stack program: wire the components from stack config and export what operators and the driver need.

All config is read and validated first; a bad key fails the update before anything is created.
Release state (live color, weights, images, counts, fleets' released versions and AMIs) comes from
the release store named by `releaseStore`; git's values only bootstrap what was never released.
"""

from pathlib import Path

import pulumi
from zero_downtime.components.blue_green_service import BlueGreenService
from zero_downtime.components.feature_flags import FeatureFlags
from zero_downtime.components.network import Network
from zero_downtime.components.probe import PreTrafficProbe
from zero_downtime.components.rolling_asg import RollingAutoScalingGroup
from zero_downtime.components.shared_edge import DEFAULT_TEST_LISTENER_PORT, SharedEdge
from zero_downtime.stack_config.edge import load_edge_settings
from zero_downtime.stack_config.feature_flags import FlagArns, parse_feature_flags, parse_flag_readers, with_monitors
from zero_downtime.stack_config.fleets import parse_fleets
from zero_downtime.stack_config.kubernetes import create_kubernetes, load_kubernetes
from zero_downtime.stack_config.project import check_project_config
from zero_downtime.stack_config.release_state import apply_flag_release_state, apply_release_state
from zero_downtime.stack_config.services import assign_test_hosts, parse_services

config = pulumi.Config()
check_project_config(config)
settings = load_edge_settings(config)
services = parse_services(config.get_object("services"), settings.alarms, settings.tags)
fleets = parse_fleets(config.get_object("fleets"), settings.alarms, settings.tags, services)
kubernetes = load_kubernetes(config)
feature_flags = parse_feature_flags(config.get_object("featureFlags"), services, pulumi.get_stack(), settings.tags)
flag_readers = parse_flag_readers(config.get_object("services"), feature_flags, services)
release_store = {
    "store_url": config.get("releaseStore") or "",
    "project": pulumi.get_project(),
    "stack": pulumi.get_stack(),
    "base_dir": Path(__file__).resolve().parent,
    "region": pulumi.Config("aws").get("region"),
}
services, fleets, released = apply_release_state(**release_store, services=services, fleets=fleets)
released_flags = apply_flag_release_state(
    **release_store, flag_sets={name: args for name, (args, _) in feature_flags.items()}, applied=released
)
feature_flags = {name: (released_flags[name], monitored) for name, (_, monitored) in feature_flags.items()}
for note in released.notes:
    pulumi.log.info(note)
if services or fleets:
    settings.validate()
    assign_test_hosts(services, settings.host_name, https=bool(settings.edge.get("certificate_arn")))
    probe_source_ips = None
    if settings.existing_vpc_id:
        vpc_id = pulumi.Output.from_input(settings.existing_vpc_id)
        public_subnet_ids = pulumi.Output.from_input(settings.existing_public_subnet_ids)
        private_subnet_ids = pulumi.Output.from_input(settings.existing_private_subnet_ids)
    else:
        network = Network("network", settings.network)
        vpc_id, public_subnet_ids = network.vpc_id, network.public_subnet_ids
        private_subnet_ids = network.private_subnet_ids
        probe_source_ips = network.nat_public_ips

    edge_args = {**settings.edge, "vpc_id": vpc_id, "public_subnet_ids": public_subnet_ids}
    probe = None
    if services and settings.pre_traffic_probe:
        # Pre-traffic checks run inside the VPC: a CI runner cannot reach a test listener closed to the
        # internet. The probe reaches the internet-facing ALB through the NAT gateways, so the test
        # listener admits their addresses (with vpcId they are the operator's to add to testListenerCidrs).
        probe = PreTrafficProbe(
            "probe",
            {
                "vpc_id": vpc_id,
                "subnet_ids": private_subnet_ids,
                "test_listener_port": edge_args.get("test_listener_port", DEFAULT_TEST_LISTENER_PORT),
                "tags": settings.tags,
            },
        )
        if probe_source_ips is not None:
            edge_args["probe_source_ips"] = probe_source_ips
        else:
            pulumi.log.warn(
                "preTrafficProbe: with vpcId, add your NAT gateways' public addresses to testListenerCidrs, "
                "or the probe cannot reach the test listener"
            )
    edge = SharedEdge("edge", edge_args)
    wiring = {
        "cluster_arn": edge.cluster_arn,
        "vpc_id": vpc_id,
        "subnet_ids": private_subnet_ids,
        "load_balancer_arn_suffix": edge.load_balancer_arn_suffix,
        "load_balancer_security_group_id": edge.load_balancer_security_group_id,
        "production_listener_arn": edge.production_listener_arn,
        "test_listener_arn": edge.test_listener_arn,
        "production_base_url": edge.production_base_url,
        "test_base_url": edge.test_base_url,
    }
    if probe is not None:
        wiring["probe_function_arn"] = probe.function_arn
    # A service that reads a flag set gets its configuration ARN once the set exists (below).
    flag_arns = FlagArns(flag_readers)
    blue_green = {
        name: BlueGreenService(name, {**flag_arns.service_args(name, args), **wiring})
        for name, args in services.items()
    }

    # The shared edge, also read by other teams' stacks through a StackReference.
    pulumi.export("vpcId", vpc_id)
    pulumi.export("privateSubnetIds", private_subnet_ids)
    pulumi.export("clusterName", edge.cluster_name)
    pulumi.export("clusterArn", edge.cluster_arn)
    pulumi.export("loadBalancerDnsName", edge.load_balancer_dns_name)
    pulumi.export("loadBalancerArnSuffix", edge.load_balancer_arn_suffix)
    pulumi.export("loadBalancerSecurityGroupId", edge.load_balancer_security_group_id)
    pulumi.export("productionListenerArn", edge.production_listener_arn)
    pulumi.export("testListenerArn", edge.test_listener_arn)
    pulumi.export("productionBaseUrl", edge.production_base_url)
    pulumi.export("testBaseUrl", edge.test_base_url)
    pulumi.export("services", {name: svc.release_outputs for name, svc in blue_green.items()})

    fleet_wiring = {
        "vpc_id": vpc_id,
        "subnet_ids": private_subnet_ids,
        "listener_arn": edge.production_listener_arn,
        "load_balancer_arn_suffix": edge.load_balancer_arn_suffix,
        "load_balancer_security_group_id": edge.load_balancer_security_group_id,
    }
    rolling = {name: RollingAutoScalingGroup(name, {**args, **fleet_wiring}) for name, args in fleets.items()}
    pulumi.export("fleets", {name: fleet.release_outputs for name, fleet in rolling.items()})

if feature_flags:
    # Flags need no network: each set monitors the composite alarms of the services it names.
    flag_sets = {
        name: FeatureFlags(name, with_monitors(args, monitored, blue_green if services else {}))
        for name, (args, monitored) in feature_flags.items()
    }
    pulumi.export("featureFlags", {name: flags.release_outputs for name, flags in flag_sets.items()})
    if flag_readers:
        flag_arns.resolve(flag_sets)

if kubernetes:
    pulumi.export("kubernetes", create_kubernetes(kubernetes))
