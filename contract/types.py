"""Pulumi type tokens and the tags this project puts on what it creates.

One place for the components, the offline mocks, the policy pack and the tests.
"""

from enum import StrEnum

PACKAGE = "zero-downtime"
"""The Pulumi package name: the first part of every component's type token."""

MANAGED_BY = "pulumi-zero-downtime"
"""Value of the `managed-by` tag (AWS) and the `app.kubernetes.io/managed-by` label (Kubernetes)."""
MANAGED_BY_TAG = "managed-by"
K8S_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


def component_token(class_name: str) -> str:
    """`zero-downtime:index:<Class>`, the type token of one of our components."""
    return f"{PACKAGE}:index:{class_name}"


class ResourceType(StrEnum):
    # Networking
    VPC = "aws:ec2/vpc:Vpc"
    SUBNET = "aws:ec2/subnet:Subnet"
    INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
    NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
    EIP = "aws:ec2/eip:Eip"
    ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
    ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
    SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
    SECURITY_GROUP_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    SECURITY_GROUP_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
    LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
    # Load balancing
    LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
    LISTENER = "aws:lb/listener:Listener"
    LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
    TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
    # ECS
    ECS_CLUSTER = "aws:ecs/cluster:Cluster"
    ECS_SERVICE = "aws:ecs/service:Service"
    ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
    # Auto Scaling
    AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
    # Observability and notifications
    METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
    COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
    LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
    SNS_TOPIC = "aws:sns/topic:Topic"
    # IAM
    IAM_ROLE = "aws:iam/role:Role"
    IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
    # Lambda
    LAMBDA_FUNCTION = "aws:lambda/function:Function"
    # AppConfig (feature flags)
    APPCONFIG_APPLICATION = "aws:appconfig/application:Application"
    APPCONFIG_ENVIRONMENT = "aws:appconfig/environment:Environment"
    APPCONFIG_PROFILE = "aws:appconfig/configurationProfile:ConfigurationProfile"
    APPCONFIG_HOSTED_VERSION = "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion"
    APPCONFIG_STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
    APPCONFIG_DEPLOYMENT = "aws:appconfig/deployment:Deployment"
    # Kubernetes
    K8S_PROVIDER = "pulumi:providers:kubernetes"
    K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
    K8S_SERVICE = "kubernetes:core/v1:Service"
    K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
    K8S_HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
    FLAGGER_CANARY = "kubernetes:flagger.app/v1beta1:Canary"
    # Our components
    NETWORK = "zero-downtime:index:Network"
    SHARED_EDGE = "zero-downtime:index:SharedEdge"
    BLUE_GREEN_SERVICE = "zero-downtime:index:BlueGreenService"
    RELEASE_ALARMS = "zero-downtime:index:ReleaseAlarms"
    ROLLING_AUTOSCALING_GROUP = "zero-downtime:index:RollingAutoScalingGroup"
    ROLLING_DEPLOYMENT = "zero-downtime:index:RollingDeployment"
    FLAGGER_CANARY_COMPONENT = "zero-downtime:index:FlaggerCanary"
    PRE_TRAFFIC_PROBE = "zero-downtime:index:PreTrafficProbe"
    FEATURE_FLAGS = "zero-downtime:index:FeatureFlags"
