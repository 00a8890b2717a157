"""Stack-level policies: rules about how resources relate (alarms, PDBs, listeners, exposure).

Resources are related by value (an ARN or id in one resource's props equals another's) and, when
the engine provides them, by property dependencies, which also work during a preview when ARNs
are still unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from ..components.rule_matching import RuleMatch, shadows
from ..contract.types import ResourceType
from .config import Setting
from .ec2 import INGRESS_TYPES, REACH_SETTINGS, WorldIngress, ingress_rules, too_wide, world_ingress
from .kubernetes import replicas
from .props import as_bool, as_int, get, get_known, is_list, is_mapping, items, known_items, mapping, tags
from .rules import ADVISORY, MANDATORY, GuardStackPolicy

Findings = Iterator[tuple[str, str]]
FLAGGER_SELECTOR_LABELS = frozenset({"app", "name", "app.kubernetes.io/name"})


def _of_type(resources: Sequence[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def _dependency_urns(resource: PolicyResource, prop: str) -> set[str]:
    return {dep.urn for dep in (resource.property_dependencies or {}).get(prop, [])}


def _arn_suffix(arn: Any) -> str | None:
    """`arn:aws:elasticloadbalancing:r:a:targetgroup/n/h` -> `targetgroup/n/h` (alarm dimension)."""
    if not isinstance(arn, str) or arn.count(":") < 5:
        return None
    return arn.split(":", 5)[5]


# --- target group alarms -------------------------------------------------------------------


def _alarm_targets(alarm: PolicyResource) -> tuple[set[str], set[str]]:
    """(TargetGroup dimension values, target group URNs) an alarm watches."""
    dimensions = [mapping(get_known(alarm.props, "dimensions"))]
    for query in known_items(get_known(alarm.props, "metricQueries")):
        dimensions.append(mapping(get_known(query, "metric.dimensions")))
    values = {str(v) for d in dimensions if (v := get_known(d, "TargetGroup"))}
    urns = _dependency_urns(alarm, "dimensions") | _dependency_urns(alarm, "metricQueries")
    return values, urns


def _watched(resources: Sequence[PolicyResource]) -> tuple[set[str], set[str]]:
    values: set[str] = set()
    urns: set[str] = set()
    for alarm in _of_type(resources, ResourceType.METRIC_ALARM):
        alarm_values, alarm_urns = _alarm_targets(alarm)
        values |= alarm_values
        urns |= alarm_urns
    return values, urns


def _has_alarm(arns: list[Any], dep_urns: set[str], watched: tuple[set[str], set[str]]) -> bool:
    values, urns = watched
    suffixes = {_arn_suffix(a) for a in arns} - {None}
    tg_urns = {u for u in dep_urns if ResourceType.TARGET_GROUP in u}
    return bool(suffixes & values or tg_urns & urns)


def check_ecs_service_alarms(resources: Sequence[PolicyResource], _config: Mapping) -> Findings:
    watched = _watched(resources)
    for service in _of_type(resources, ResourceType.ECS_SERVICE):
        balancers = known_items(get_known(service.props, "loadBalancers"))
        arns = [get_known(lb, "targetGroupArn") for lb in balancers]
        if balancers and not _has_alarm(arns, _dependency_urns(service, "loadBalancers"), watched):
            yield (
                service.urn,
                (
                    f"ECS service {service.name} is load-balanced but no CloudWatch alarm watches its "
                    "target group: a bad release is not noticed. Add a MetricAlarm with dimension "
                    "TargetGroup=<arnSuffix> (e.g. HTTPCode_Target_5XX_Count), e.g. via ReleaseAlarms."
                ),
            )


def check_asg_alarms(resources: Sequence[PolicyResource], _config: Mapping) -> Findings:
    watched = _watched(resources)
    for group in _of_type(resources, ResourceType.AUTOSCALING_GROUP):
        raw = get_known(group.props, "targetGroupArns")
        attached = is_list(raw) and len(raw) > 0  # len() reads no element, known or not
        if attached and not _has_alarm(known_items(raw), _dependency_urns(group, "targetGroupArns"), watched):
            yield (
                group.urn,
                (
                    f"Auto Scaling group {group.name} serves a target group that no CloudWatch alarm "
                    "watches: a bad instance refresh is not noticed. Add a MetricAlarm with dimension "
                    "TargetGroup=<arnSuffix> and list it in instanceRefresh alarmSpecification."
                ),
            )


# --- Kubernetes PodDisruptionBudgets -------------------------------------------------------


def _namespace(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata.namespace") or "default")


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key, operator = expression.get("key"), expression.get("operator")
    values = set(items(expression.get("values")))
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return key in labels and labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Label selector semantics; a PDB's empty selector selects every pod in its namespace."""
    if not is_mapping(selector):
        return False
    match_labels = mapping(selector.get("matchLabels"))
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    return all(_expression_matches(mapping(e), labels) for e in items(selector.get("matchExpressions")))


def _flagger_targets(resources: Sequence[PolicyResource]) -> set[tuple[str, str]]:
    """(namespace, name) of Deployments a Flagger Canary manages."""
    return {
        (_namespace(canary.props), str(get(canary.props, "spec.targetRef.name")))
        for canary in _of_type(resources, ResourceType.FLAGGER_CANARY)
        if get(canary.props, "spec.targetRef.kind", "Deployment") == "Deployment"
    }


def flagger_primary_labels(labels: Mapping[str, Any]) -> dict[str, Any]:
    """Flagger runs a `<name>-primary` copy whose selector labels carry the `-primary` suffix."""
    return {k: f"{v}-primary" if k in FLAGGER_SELECTOR_LABELS else v for k, v in labels.items()}


def check_deployment_pdb(resources: Sequence[PolicyResource], config: Mapping) -> Findings:
    budgets = _of_type(resources, ResourceType.K8S_PDB)
    flagger = _flagger_targets(resources)
    for deployment in _of_type(resources, ResourceType.K8S_DEPLOYMENT):
        if replicas(deployment.props) < config["minReplicas"]:
            continue
        labels = mapping(get(deployment.props, "spec.template.metadata.labels"))
        namespace = _namespace(deployment.props)
        pod_label_sets = [labels]
        if (namespace, get(deployment.props, "metadata.name")) in flagger:
            pod_label_sets.append(flagger_primary_labels(labels))
        covered = any(
            _namespace(pdb.props) == namespace and selector_matches(get(pdb.props, "spec.selector"), pod_labels)
            for pdb in budgets
            for pod_labels in pod_label_sets
        )
        if not covered:
            yield (
                deployment.urn,
                (
                    f"Deployment {deployment.name} runs {replicas(deployment.props)} replicas but no "
                    f"PodDisruptionBudget in namespace {namespace} selects its pods {dict(labels)}: a "
                    "node drain may evict them all. Add a PodDisruptionBudget (maxUnavailable: 1) "
                    "whose selector matches the pod template labels (the `-primary` labels when a "
                    "Flagger Canary manages the Deployment)."
                ),
            )


# --- listeners and exposure ----------------------------------------------------------------


def _load_balancer_of(listener: PolicyResource, lbs: list[PolicyResource]) -> PolicyResource | None:
    arn = get_known(listener.props, "loadBalancerArn")
    dep_urns = _dependency_urns(listener, "loadBalancerArn")
    return next(
        (lb for lb in lbs if lb.urn in dep_urns or (arn is not None and get_known(lb.props, "arn") == arn)),
        None,
    )


def _internet_facing_alb(lb: PolicyResource | None) -> bool:
    """Unknown load balancers count as internet-facing: the safe assumption."""
    if lb is None:
        return True
    kind = get(lb.props, "loadBalancerType", "application")
    return kind == "application" and as_bool(get_known(lb.props, "internal")) is not True


def _redirects_to_https(listener: PolicyResource) -> bool:
    actions = [mapping(a) for a in items(get(listener.props, "defaultActions"))]
    return bool(actions) and all(
        a.get("type") == "redirect" and str(get(a, "redirect.protocol", "")).upper() == "HTTPS" for a in actions
    )


def _is_prod(resource: PolicyResource, lb: PolicyResource | None, config: Mapping) -> bool:
    if config["prod"]:
        return True
    stacks = set(config["prodStacks"])
    return any(tags(r.props).get("stack") in stacks for r in (resource, lb) if r is not None)


def _plain_http_listeners(resources: Sequence[PolicyResource], config: Mapping, *, prod: bool) -> Findings:
    lbs = _of_type(resources, ResourceType.LOAD_BALANCER)
    for listener in _of_type(resources, ResourceType.LISTENER):
        protocol = str(get(listener.props, "protocol", "HTTP")).upper()
        port = as_int(get(listener.props, "port"))
        if protocol != "HTTP" or port not in config["productionPorts"]:
            continue
        lb = _load_balancer_of(listener, lbs)
        if not _internet_facing_alb(lb) or _redirects_to_https(listener):
            continue
        if _is_prod(listener, lb, config) == prod:
            yield (
                listener.urn,
                (
                    f"listener {listener.name} serves plain HTTP on port {port} of an internet-facing "
                    "load balancer. Serve production on HTTPS 443 and make this listener's default "
                    "action {type: redirect, redirect: {protocol: HTTPS, port: '443', statusCode: "
                    "HTTP_301}} (SharedEdge does this when certificateArn is set)."
                ),
            )


def check_https_redirect_prod(resources: Sequence[PolicyResource], config: Mapping) -> Findings:
    yield from _plain_http_listeners(resources, config, prod=True)


def check_https_redirect_nonprod(resources: Sequence[PolicyResource], config: Mapping) -> Findings:
    yield from _plain_http_listeners(resources, config, prod=False)


def _world_rules(
    resources: Sequence[PolicyResource], config: Mapping | None = None
) -> Iterator[tuple[PolicyResource, WorldIngress]]:
    for resource in _of_type(resources, *INGRESS_TYPES):
        for rule in world_ingress(resource.resource_type, resource.props, config):
            yield resource, rule


def check_test_listener_private(resources: Sequence[PolicyResource], config: Mapping) -> Findings:
    lbs = _of_type(resources, ResourceType.LOAD_BALANCER)
    test_ports = {
        port: listener
        for listener in _of_type(resources, ResourceType.LISTENER)
        if (port := as_int(get(listener.props, "port"))) is not None
        and port not in config["productionPorts"]
        and _internet_facing_alb(_load_balancer_of(listener, lbs))
    }
    reported: set[int] = set()
    for resource, rule in _world_rules(resources, config):
        for port, listener in sorted(test_ports.items()):
            if rule.covers(port):
                reported.add(port)
                yield (
                    resource.urn,
                    (
                        f"{resource.name} allows {rule.describe()}, which reaches test listener "
                        f"{listener.name} on port {port}: anyone can call the idle color. Allow the "
                        "test port from trusted CIDRs only (SharedEdge test_listener_cidrs)."
                    ),
                )
    # Rules of different resources add up: each may be narrow while together they cover the world.
    for port, listener in sorted(test_ports.items()):
        if port in reported:
            continue
        contributors = [
            (resource, rule)
            for resource in _of_type(resources, *INGRESS_TYPES)
            for rule in ingress_rules(resource.resource_type, resource.props)
            if rule.covers(port) and rule.cidrs
        ]
        wide = too_wide([c for _, rule in contributors for c in rule.cidrs], config)
        if wide:
            names = ", ".join(dict.fromkeys(resource.name for resource, _ in contributors))
            yield (
                contributors[0][0].urn,
                (
                    f"{names} together allow port {port} from {wide}, which reaches test listener "
                    f"{listener.name}: anyone can call the idle color. Allow the test port from trusted "
                    "CIDRs only (SharedEdge test_listener_cidrs)."
                ),
            )


def _group_keys(resource: PolicyResource, rule_sg: Any) -> set[str]:
    """Identities of the security group a world-open rule belongs to (id values and URNs)."""
    if resource.resource_type == ResourceType.SECURITY_GROUP:
        keys = {resource.urn}
        if get_known(resource.props, "id"):
            keys.add(str(get_known(resource.props, "id")))
        return keys
    keys = _dependency_urns(resource, "securityGroupId")
    if rule_sg:
        keys.add(str(rule_sg))
    return keys


def check_web_ports_on_lb_only(resources: Sequence[PolicyResource], config: Mapping) -> Findings:
    attached: set[str] = set()
    for lb in _of_type(resources, ResourceType.LOAD_BALANCER):
        attached |= {str(sg) for sg in known_items(get_known(lb.props, "securityGroups"))}
        attached |= _dependency_urns(lb, "securityGroups")
    allowed = set(config["allowedPublicPorts"])
    for resource, rule in _world_rules(resources, config):
        if rule.from_port != rule.to_port or rule.from_port not in allowed:
            continue  # ec2-security-group-public-ingress reports those
        if not _group_keys(resource, rule.security_group_id) & attached:
            yield (
                resource.urn,
                (
                    f"{resource.name} allows {rule.describe()} on a security group no load balancer "
                    "uses: only the load balancer faces the internet. Allow these ports from the "
                    "load balancer's security group instead."
                ),
            )


# --- listener rules that take another rule's every request ------------------------------------


def _values(condition: Any) -> tuple[str, ...] | None:
    """The condition's values; None when any is unknown (preview) or not text."""
    try:
        found = tuple(items(mapping(condition).get("values")))
    except UnknownValueError:
        return None
    return found if found and all(isinstance(v, str) for v in found) else None


def rule_match(props: Mapping[str, Any]) -> RuleMatch | None:
    """A rule's host and path conditions; None when they cannot be known."""
    paths: tuple[str, ...] | None = None
    hosts: tuple[str, ...] | None = None
    other = False
    try:
        conditions = items(get(props, "conditions"))
    except UnknownValueError:
        return None
    for condition in conditions:
        for key, value in mapping(condition).items():
            if value is None:
                continue
            if key in ("pathPattern", "hostHeader"):
                values = _values(value)
                if values is None:
                    return None
                if key == "pathPattern":
                    paths = (paths or ()) + values
                else:
                    hosts = (hosts or ()) + values
            else:
                other = True
    if paths is None and hosts is None and not other:
        return None  # no condition at all: the provider rejects it
    return RuleMatch(paths, hosts, other)


def _listener_key(rule: PolicyResource) -> Any:
    arn = get_known(rule.props, "listenerArn")
    if isinstance(arn, str):
        return arn
    urns = _dependency_urns(rule, "listenerArn")
    return frozenset(urns) if urns else None


def check_rules_not_shadowed(resources: Sequence[PolicyResource], _config: Mapping) -> Findings:
    listeners: dict[Any, list[tuple[int, PolicyResource, RuleMatch]]] = {}
    for rule in _of_type(resources, ResourceType.LISTENER_RULE):
        key, priority, match = _listener_key(rule), as_int(get_known(rule.props, "priority")), rule_match(rule.props)
        if key is not None and priority is not None and match is not None:
            listeners.setdefault(key, []).append((priority, rule, match))
    for rules in listeners.values():
        rules.sort(key=lambda entry: entry[0])
        for i, (priority, rule, match) in enumerate(rules):
            for later_priority, later, later_match in rules[i + 1 :]:
                if later_priority > priority and shadows(match, later_match):
                    yield (
                        rule.urn,
                        (
                            f"listener rule {rule.name} (priority {priority}) matches every request of "
                            f"{later.name} (priority {later_priority}), so {later.name} never gets traffic. "
                            "Narrow its path patterns or add a host condition (a `/*` rule takes the "
                            "catch-all service's requests)."
                        ),
                    )


_PRODUCTION_PORTS = Setting("array", [80, 443], "Listener ports that carry production traffic.", item_type="integer")
_REDIRECT_SETTINGS = {
    "prodStacks": Setting("array", ["prod"], "Values of the `stack` tag that mark production.", item_type="string"),
    "prod": Setting("boolean", False, "Treat the whole stack as production."),
    "productionPorts": _PRODUCTION_PORTS,
}

POLICIES = [
    GuardStackPolicy(
        "ecs-service-target-group-alarm",
        "Every load-balanced ECS service has a CloudWatch alarm on its target group.",
        MANDATORY,
        check_ecs_service_alarms,
    ),
    GuardStackPolicy(
        "autoscaling-group-target-group-alarm",
        "Every Auto Scaling group behind a target group has a CloudWatch alarm on it.",
        MANDATORY,
        check_asg_alarms,
    ),
    GuardStackPolicy(
        "kubernetes-deployment-pdb",
        "Every replicated Deployment is covered by a PodDisruptionBudget that selects its pods.",
        MANDATORY,
        check_deployment_pdb,
        {"minReplicas": Setting("integer", 2, "Replica count from which a PDB is required.", 1)},
    ),
    GuardStackPolicy(
        "elb-listener-http-redirects-https",
        "Production internet-facing HTTP listeners redirect to HTTPS.",
        MANDATORY,
        check_https_redirect_prod,
        _REDIRECT_SETTINGS,
    ),
    GuardStackPolicy(
        "elb-listener-http-redirects-https-nonprod",
        "Non-production internet-facing HTTP listeners should redirect to HTTPS.",
        ADVISORY,
        check_https_redirect_nonprod,
        _REDIRECT_SETTINGS,
    ),
    GuardStackPolicy(
        "elb-listener-rule-not-shadowed",
        "No listener rule takes every request of a rule checked after it (that service would get no traffic).",
        MANDATORY,
        check_rules_not_shadowed,
    ),
    GuardStackPolicy(
        "elb-listener-test-port-private",
        "The test listener port is never open to the internet.",
        MANDATORY,
        check_test_listener_private,
        {"productionPorts": _PRODUCTION_PORTS, **REACH_SETTINGS},
    ),
    GuardStackPolicy(
        "ec2-security-group-public-only-on-load-balancer",
        "Web ports open to the internet only on a load balancer's security group.",
        MANDATORY,
        check_web_ports_on_lb_only,
        {
            "allowedPublicPorts": Setting(
                "array",
                [80, 443],
                "Ports the load balancer may open to the internet.",
                item_type="integer",
            ),
            **REACH_SETTINGS,
        },
    ),
]
