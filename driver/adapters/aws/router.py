"""TrafficRouter over an ALB listener rule's weighted forward action (ELBv2 modify_rule)."""

from __future__ import annotations

from typing import Any

from ....contract import COLORS, Color, Weights
from ...core.errors import PortError
from .clients import AWS_ERRORS, port_error


class ElbRuleRouter:
    """Writes and reads the weights of the two colors' target groups on one listener rule.

    The rule's other settings (target-group stickiness) are kept on every write. The stack puts
    production traffic on a rule, never on the listener default action, so only rules are edited.
    """

    def __init__(self, elbv2: Any, rule_arn: str, target_groups: dict[Color, str]) -> None:
        if set(target_groups) != set(COLORS):
            raise ValueError("target_groups needs exactly the keys blue and green")
        self.elbv2 = elbv2
        self.rule_arn = rule_arn
        self.target_groups = dict(target_groups)
        self._color_of = {arn: color for color, arn in target_groups.items()}

    def _rule(self) -> dict[str, Any]:
        try:
            rules = self.elbv2.describe_rules(RuleArns=[self.rule_arn])["Rules"]
        except AWS_ERRORS as exc:
            raise port_error(f"describe_rules {self.rule_arn}", exc) from exc
        if not rules:
            raise PortError(f"describe_rules: rule {self.rule_arn} not found")
        return rules[0]

    def set_weights(self, weights: Weights) -> None:
        stickiness: dict[str, Any] | None = None
        for action in self._rule().get("Actions", []):
            if action.get("Type") == "forward":
                stickiness = action.get("ForwardConfig", {}).get("TargetGroupStickinessConfig")
        forward: dict[str, Any] = {
            "TargetGroups": [{"TargetGroupArn": self.target_groups[c], "Weight": weights.of(c)} for c in COLORS]
        }
        if stickiness:
            forward["TargetGroupStickinessConfig"] = stickiness
        try:
            self.elbv2.modify_rule(
                RuleArn=self.rule_arn,
                Actions=[{"Type": "forward", "ForwardConfig": forward}],
            )
        except AWS_ERRORS as exc:
            raise port_error(f"modify_rule {self.rule_arn}", exc) from exc

    def observed_weights(self) -> Weights:
        actions = [a for a in self._rule().get("Actions", []) if a.get("Type") == "forward"]
        if not actions:
            raise PortError(f"rule {self.rule_arn} has no forward action")
        action = actions[0]
        raw: dict[Color, int] = {"blue": 0, "green": 0}
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if not groups and action.get("TargetGroupArn"):
            groups = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        for group in groups or []:
            color = self._color_of.get(group["TargetGroupArn"])
            if color is None:
                raise PortError(
                    f"rule {self.rule_arn} forwards to {group['TargetGroupArn']}, which is neither color's target group"
                )
            raw[color] += int(group.get("Weight", 1))
        return normalise(raw, self.rule_arn)


def normalise(raw: dict[Color, int], where: str) -> Weights:
    """ALB weights are relative (0-999); turn them into percents that sum to 100."""
    total = raw["blue"] + raw["green"]
    if total <= 0:
        raise PortError(f"{where}: every target group has weight 0")
    blue = round(raw["blue"] * 100 / total)
    return Weights(blue=blue, green=100 - blue)
