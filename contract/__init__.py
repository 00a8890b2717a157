"""The contract between the components and the release driver, free of any dependency.

- `colors`: the two colors and a production traffic split (`Weights`).
- `outputs`: the typed records of the stack outputs `services` and `fleets`, with build and parse.
- `types`: Pulumi type tokens and the managed-by tag.
- `errors`: `ContractError`, which names the key at fault.
"""

from .colors import COLORS, Color, Weights, other_color, parse_color
from .errors import ContractError
from .outputs import (
    ColorOutputs,
    FleetOutputs,
    Mode,
    ServiceOutputs,
    build_color,
    build_fleet,
    build_service,
    fleet_names,
    parse_fleet,
    parse_service,
    service_names,
)
from .types import MANAGED_BY, MANAGED_BY_TAG, PACKAGE, ResourceType, component_token

__all__ = [
    "COLORS",
    "MANAGED_BY",
    "MANAGED_BY_TAG",
    "PACKAGE",
    "Color",
    "ColorOutputs",
    "ContractError",
    "FleetOutputs",
    "Mode",
    "ResourceType",
    "ServiceOutputs",
    "Weights",
    "build_color",
    "build_fleet",
    "build_service",
    "component_token",
    "fleet_names",
    "other_color",
    "parse_color",
    "parse_fleet",
    "parse_service",
    "service_names",
]
