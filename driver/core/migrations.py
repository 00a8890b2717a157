"""Expand/contract schema migrations inside a service release (docs/migrations.md).

The service strategy (`service.py`) calls these states when its plan has `Migrations`:

    PENDING -> COMPAT_GATE -> EXPANDING -> DEPLOYING_IDLE ... KEEPING_WARM
      -> CONTRACT_CHECK -> CONTRACTING -> SUCCEEDED

- COMPAT_GATE: the compatibility gate. The compat command applies the expand to a scratch copy of
  the schema and smoke-tests the *old* version against it. It runs before the production schema
  changes, so an expand that breaks the old version is caught before a user request meets it.
- EXPANDING: the expand command on the production schema, before the new color starts. The old
  version keeps serving on it (the gate showed it can).
- CONTRACT_CHECK: after keep-warm, once the old color is scaled down. The contract may start only
  after the contract delay and once the old color serves nothing: the load balancer routes all to
  the new color and the old color has no healthy target. Otherwise the release pauses with the
  contract refused (`promote` checks again, `abort` rolls back).
- CONTRACTING: the release is FROZEN from the record that enters it: the contract removes what the
  old version needs, so no command moves traffic back to it. A failure stops in FAILED, still
  frozen; `resume` runs the contract again (roll forward only). `abort` is refused (FrozenError).

A failure before CONTRACTING rolls traffic back as any failure does, and keeps the expanded schema,
which the old version is compatible with: nothing ever runs a down-migration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...contract import Color, Weights
from .errors import FrozenError, PortError
from .machine import Machine
from .plan import Migrations
from .ports import Deployer, MigrationResult, MigrationRunner, TrafficRouter
from .status import FAILED, PAUSED, SUCCEEDED, Status

COMPAT_GATE = "COMPAT_GATE"
EXPANDING = "EXPANDING"
CONTRACT_CHECK = "CONTRACT_CHECK"
CONTRACTING = "CONTRACTING"
MIGRATION_STATES = (COMPAT_GATE, EXPANDING, CONTRACT_CHECK, CONTRACTING)
"""The states a release with migrations adds; they are not in a release without them."""

FROZEN = "frozen: roll forward only"
"""What `status`, `abort` and a failure say once the contract has started."""
PAUSED_FOR_CONTRACT = "contract"


def is_frozen(status: Status) -> bool:
    """True once the release recorded that its contract starts."""
    return bool(status.facts.get("frozen"))


def refuse_if_frozen(status: Status) -> None:
    """FrozenError for `abort` of a frozen release."""
    if is_frozen(status):
        raise FrozenError(
            f"{FROZEN}: release {status.release_id} started its contract ({status.state}); the old version "
            "cannot take traffic back on the contracted schema; fix forward and run `resume`"
        )


class MigrationPhases:
    """The migration states of one service release; `service.ServiceRelease` wires them in."""

    def __init__(
        self,
        migrations: Migrations,
        runner: MigrationRunner | None,
        *,
        router: TrafficRouter,
        deployer: Deployer,
        new_color: Color,
        stable_color: Color,
        new_image: str,
        old_image: str,
        env: Mapping[str, str],
        poll_seconds: float,
        wait_seconds: float,
        after_expand: str,
    ) -> None:
        self.migrations = migrations
        self.runner = runner
        self.router = router
        self.deployer = deployer
        self.new_color = new_color
        self.stable_color = stable_color
        self.new_image = new_image
        self.old_image = old_image
        self.env = dict(env)
        self.poll_seconds = poll_seconds
        self.wait_seconds = wait_seconds
        """How long CONTRACT_CHECK waits for the old color to stop serving before it refuses."""
        self.after_expand = after_expand

    @property
    def handlers(self) -> dict[str, Callable[[Machine], None]]:
        return {
            COMPAT_GATE: self._compat_gate,
            EXPANDING: self._expand,
            CONTRACT_CHECK: self._contract_check,
            CONTRACTING: self._contract,
        }

    def first_state(self) -> str:
        """Where the release goes from PENDING."""
        return COMPAT_GATE if self.migrations.expand_command else self.after_expand

    # -- states --------------------------------------------------------------------------------------
    def _compat_gate(self, m: Machine) -> None:
        result = self._run("compat", self.migrations.compat_command)
        if not result.passed:
            m.record("migration", detail={"migration": result.to_dict()})
            m.begin_rollback(
                f"compatibility gate: the old version ({self.old_image or self.stable_color}) fails against the "
                f"expanded schema: {result.detail}; the production schema was not changed"
            )
            return
        m.enter(EXPANDING, detail={"migration": result.to_dict()})

    def _expand(self, m: Machine) -> None:
        result = self._run("expand", self.migrations.expand_command)
        if not result.passed:
            m.record("migration", detail={"migration": result.to_dict()})
            m.begin_rollback(
                f"expand failed: {result.detail}; traffic stays on {self.stable_color}, and whatever the expand "
                "applied stays (the old version is compatible with it)"
            )
            return
        m.enter(self.after_expand, facts={"expanded_at": m.now()}, detail={"migration": result.to_dict()})

    def after_keep_warm(self, m: Machine, warm_since: float) -> None:
        """Called once the old color is scaled down: SUCCEEDED, or on to the contract."""
        if not self.migrations.contract_command:
            m.enter(SUCCEEDED, reason=f"{self.new_color} is live")
            return
        now = m.now()
        m.enter(
            CONTRACT_CHECK,
            facts={
                "stable_scaled_down_at": now,
                "contract_not_before": warm_since + self.migrations.contract_delay_seconds,
                "contract_check_since": now,
            },
        )

    def _contract_check(self, m: Machine) -> None:
        now = m.now()
        not_before = float(m.status.facts.get("contract_not_before", now))
        if now < not_before:
            m.sleep(min(self.poll_seconds, not_before - now))
            return
        serving = self.old_color_serving()
        if not serving:
            # Confirmed by a second look a poll later: one read may catch a health check mid-flight.
            m.sleep(self.poll_seconds)
            serving = self.old_color_serving()
        if not serving:
            m.enter(
                CONTRACTING,
                reason=f"{FROZEN}: contract started",
                facts={"frozen": True, "frozen_at": now},
                detail={"old_color": self.stable_color, "serves": "nothing"},
            )
            return
        since = float(m.status.facts.get("contract_check_since", now))
        if now < since + self.wait_seconds:
            m.sleep(min(self.poll_seconds, since + self.wait_seconds - now))
            return
        m.enter(
            PAUSED,
            reason=(
                f"contract refused: {self.stable_color} (the old version) still serves: {serving}; the schema stays "
                f"expanded; stop {self.stable_color}, then run `promote` to contract (or `abort`)"
            ),
            facts={"paused_for": PAUSED_FOR_CONTRACT},
            detail={"old_color": self.stable_color, "serves": serving},
        )

    def _contract(self, m: Machine) -> None:
        result = self._run("contract", self.migrations.contract_command)
        if not result.passed:
            m.record("migration", detail={"migration": result.to_dict()})
            m.fail(
                f"{FROZEN}: the contract failed: {result.detail}; traffic stays on {self.new_color}; fix the "
                "cause and run `resume` (the contract command runs again)"
            )
            return
        m.enter(SUCCEEDED, reason=f"{self.new_color} is live; contract done", detail={"migration": result.to_dict()})

    # -- the strategy's hooks ---------------------------------------------------------------------------
    def on_error(self, m: Machine, exc: PortError) -> bool:
        """A port error once frozen stops in FAILED (no rollback); before, the machine rolls back."""
        if not is_frozen(m.status):
            return False
        m.fail(f"{FROZEN}: {m.status.state} failed: {exc}; fix the cause and run `resume`")
        return True

    def on_resume(self, m: Machine) -> bool:
        """True when it put the release back on its feet (a frozen FAILED retries the contract)."""
        if m.status.state == FAILED and is_frozen(m.status):
            m.enter(CONTRACTING, reason=f"resume: run the contract again ({FROZEN})")
            return True
        return False

    def on_promote(self, m: Machine) -> bool:
        """True when the pause was a refused contract: check the old color again."""
        if m.status.facts.get("paused_for") != PAUSED_FOR_CONTRACT:
            return False
        m.record("promote", note="promoted by operator: check the old color again, then contract")
        m.enter(CONTRACT_CHECK, facts={"contract_check_since": m.now(), "paused_for": ""})
        return True

    def old_color_serving(self) -> str:
        """Why the old color may still serve ("" when it serves nothing): weights and healthy targets."""
        try:
            observed = self.router.observed_weights()
        except PortError as exc:
            return f"cannot read the load balancer: {exc}"
        if observed != Weights.all_to(self.new_color):
            return f"the load balancer routes {observed.as_dict()}"
        healthy = self.deployer.healthy_targets(self.stable_color)
        if healthy:
            return f"{healthy} healthy target{'s' if healthy != 1 else ''} of {self.stable_color}"
        return ""

    def _run(self, phase: str, command: str) -> MigrationResult:
        if self.runner is None:
            raise PortError("the plan has migrations but the release was given no migration runner")
        env = {**self.env, "ZDD_PHASE": phase, "ZDD_NEW_IMAGE": self.new_image, "ZDD_OLD_IMAGE": self.old_image}
        return self.runner.run(phase, command, self.new_image, env)


def migration_facts(status: Status) -> dict[str, Any]:
    """What `status` shows about the migrations of a release."""
    plan = status.spec.get("plan") or {}
    migrations = plan.get("migrations") if isinstance(plan, Mapping) else None
    return {
        "migrations": dict(migrations) if isinstance(migrations, Mapping) else None,
        "frozen": is_frozen(status),
    }
