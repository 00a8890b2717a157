"""FlagStore on AWS AppConfig: every percentage is a new hosted version, deployed to the environment.

`set_percentage` reads the document of the newest deployment of the flag set's profile, changes one
flag, creates a hosted version with it and starts a deployment with the configured strategy (by
default the flag set's own, which AppConfig watches with its alarm monitors). A deployment of this
profile still running is dealt with first, within what StopDeployment allows: AWS's API reference
says it "works only on deployments that have a status of DEPLOYING, unless an AllowRevert parameter is
supplied", and with AllowRevert an in-progress deployment ends ROLLED_BACK (its hosts go back to the
version before it). So:

- DEPLOYING: stopped, for a step and for the kill switch alike;
- BAKING or VALIDATING, for a step: not stopped. Reverting it would turn the previous step off for
  its users before the new step turns it on again, so the step waits for AppConfig's bake to finish
  (`StoreSettling`; the release polls and rolls back after `--deploy-timeout`);
- BAKING or VALIDATING, for the kill switch (0%): stopped with `AllowRevert`, then the kill switch
  deploys at once: an off switch never waits for a bake.

StartDeployment carries `LatestDeploymentNumber`, so a deployment started by someone else in between
makes it fail (ConflictException) instead of overwriting it.

0% (the kill switch, and every rollback) deploys with the set's kill-switch strategy: all at once and
no bake, because AppConfig rolls back any deployment that runs while a monitored alarm is in ALARM,
and the alarm that made the driver roll back is usually still firing.

`percentage` is what the hosts are served: the newest deployment of the profile that reached all of
them (BAKING or COMPLETE). A deployment AppConfig rolled back on an alarm (ROLLED_BACK) does not
count, so the driver sees the percentage it set is not served, and rolls back too.
"""

from __future__ import annotations

import logging
from typing import Any

from ....contract import ContractError, FeatureFlagsOutputs
from ....contract import flags as flag_doc
from ...core.errors import PortError, StoreSettling
from .clients import AWS_ERRORS, port_error

log = logging.getLogger(__name__)
SERVED = frozenset({"BAKING", "COMPLETE"})
RUNNING = frozenset({"DEPLOYING", "BAKING", "VALIDATING"})
STOPPABLE = "DEPLOYING"
"""The one state StopDeployment accepts without AllowRevert (AWS API reference, StopDeployment)."""
MAX_PAGES = 20


class AppConfigFlagStore:
    def __init__(self, appconfig: Any, flags: FeatureFlagsOutputs, strategy_id: str | None = None) -> None:
        self.appconfig = appconfig
        self.flags = flags
        self.strategy_id = strategy_id or flags.deployment_strategy_id
        self.app = flags.application_id
        self.env = flags.environment_id
        self.profile = flags.configuration_profile_id

    # -- reads ---------------------------------------------------------------------------------------
    def _deployments(self) -> list[dict[str, Any]]:
        """This profile's deployments in the environment, newest first."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ApplicationId": self.app, "EnvironmentId": self.env, "MaxResults": 50}
        for _ in range(MAX_PAGES):
            try:
                resp = self.appconfig.list_deployments(**kwargs)
            except AWS_ERRORS as exc:
                raise port_error("appconfig list_deployments", exc) from exc
            found += [d for d in resp.get("Items", []) if d.get("ConfigurationProfileId") in (None, self.profile)]
            if not resp.get("NextToken"):
                break
            kwargs["NextToken"] = resp["NextToken"]
        return sorted(found, key=lambda d: int(d["DeploymentNumber"]), reverse=True)

    def _content(self, version: str) -> dict[str, Any]:
        try:
            resp = self.appconfig.get_hosted_configuration_version(
                ApplicationId=self.app, ConfigurationProfileId=self.profile, VersionNumber=int(version)
            )
        except AWS_ERRORS as exc:
            raise port_error("appconfig get_hosted_configuration_version", exc) from exc
        body = resp["Content"]
        raw = body.read() if hasattr(body, "read") else body
        try:
            return flag_doc.parse_document(raw, f"hosted configuration version {version}")
        except ContractError as exc:
            raise PortError(str(exc)) from exc

    def _served(self, deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((d for d in deployments if d.get("State") in SERVED), None)

    def percentage(self, flag: str) -> int:
        served = self._served(self._deployments())
        if served is None:
            raise PortError(f"no deployment of the flag set {self.flags.name} has reached its hosts")
        try:
            return flag_doc.percentage_of(self._content(served["ConfigurationVersion"]), flag)
        except ContractError as exc:
            raise PortError(str(exc)) from exc

    # -- writes --------------------------------------------------------------------------------------
    def set_percentage(self, flag: str, percentage: int) -> None:
        deployments = self._deployments()
        base = self._served(deployments) or (deployments[0] if deployments else None)
        if base is None:
            raise PortError(f"the flag set {self.flags.name} was never deployed; run `pulumi up` first")
        try:
            content = flag_doc.with_percentage(self._content(base["ConfigurationVersion"]), flag, percentage)
        except ContractError as exc:
            raise PortError(str(exc)) from exc
        newest = deployments[0]
        state = newest.get("State")
        if state in RUNNING:  # AppConfig runs one deployment per environment at a time
            number = int(newest["DeploymentNumber"])
            if state == STOPPABLE:
                self._stop(number)
            elif percentage == 0:  # the kill switch: revert the running deployment, never wait for it
                self._stop(number, allow_revert=True)
            else:
                raise StoreSettling(
                    f"deployment {number} of the flag set {self.flags.name} is {state}; AppConfig stops only a "
                    "DEPLOYING one without reverting it, so the next percentage waits for it to finish"
                )
        try:
            version = self.appconfig.create_hosted_configuration_version(
                ApplicationId=self.app,
                ConfigurationProfileId=self.profile,
                Content=content.encode(),
                ContentType=flag_doc.CONTENT_TYPE,
                Description=f"zdd-release: {flag} at {percentage}%",
            )["VersionNumber"]
            self.appconfig.start_deployment(
                ApplicationId=self.app,
                EnvironmentId=self.env,
                DeploymentStrategyId=self.flags.kill_switch_strategy_id if percentage == 0 else self.strategy_id,
                ConfigurationProfileId=self.profile,
                ConfigurationVersion=str(version),
                Description=f"zdd-release: {flag} at {percentage}%",
                LatestDeploymentNumber=int(newest["DeploymentNumber"]),
            )
        except AWS_ERRORS as exc:
            raise port_error("appconfig deploy", exc) from exc
        log.info("flag %s at %d%%: hosted version %s deploying", flag, percentage, version)

    def _stop(self, number: int, *, allow_revert: bool = False) -> None:
        extra = {"AllowRevert": True} if allow_revert else {}
        try:
            self.appconfig.stop_deployment(
                ApplicationId=self.app, EnvironmentId=self.env, DeploymentNumber=number, **extra
            )
        except AWS_ERRORS as exc:
            raise port_error("appconfig stop_deployment", exc) from exc
