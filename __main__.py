"""Stack program: wire the components from stack config and export what operators and the driver need.

All config is read and validated first; a bad key fails the update before anything is created.
"""

import pulumi

from components.blue_green_service import BlueGreenService
from components.network import Network
from components.shared_edge import SharedEdge
from stack_config.edge import load_edge_settings
from stack_config.services import parse_services

config = pulumi.Config()
settings = load_edge_settings(config)
services = parse_services(config.get_object("services"), settings.alarms)

if services:
    if settings.existing_vpc_id:
        vpc_id = pulumi.Output.from_input(settings.existing_vpc_id)
        public_subnet_ids = pulumi.Output.from_input(settings.existing_public_subnet_ids)
        private_subnet_ids = pulumi.Output.from_input(settings.existing_private_subnet_ids)
    else:
        network = Network("network", settings.network)
        vpc_id, public_subnet_ids = network.vpc_id, network.public_subnet_ids
        private_subnet_ids = network.private_subnet_ids

    edge = SharedEdge("edge", {**settings.edge, "vpc_id": vpc_id, "public_subnet_ids": public_subnet_ids})
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
    blue_green = {name: BlueGreenService(name, {**args, **wiring}) for name, args in services.items()}

    pulumi.export("vpcId", vpc_id)
    pulumi.export("clusterName", edge.cluster_name)
    pulumi.export("loadBalancerDnsName", edge.load_balancer_dns_name)
    pulumi.export("productionListenerArn", edge.production_listener_arn)
    pulumi.export("testListenerArn", edge.test_listener_arn)
    pulumi.export("services", {name: svc.release_outputs for name, svc in blue_green.items()})
