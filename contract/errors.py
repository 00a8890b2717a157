"""The one error of the contract: a value that does not have the agreed shape."""

from __future__ import annotations


class ContractError(ValueError):
    """A contract value is missing or malformed. `key` names it (e.g. `services.web.blue.image`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem
