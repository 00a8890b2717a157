"""The contract between the components and the release driver, free of any dependency.

- `colors`: the two colors and a production traffic split (`Weights`).
- `outputs`: the typed records of the stack outputs `services`, `fleets` and `featureFlags`, with build and parse.
- `flags`: the feature-flag document (AppConfig's feature-flag format) and its percentage.
- `types`: Pulumi type tokens and the managed-by tag.
- `errors`: `ContractError`, which names the key at fault.
"""

from .colors import COLORS, Color, Weights, other_color, parse_color
from .errors import ContractError
from .outputs import (
    ColorOutputs,
    FeatureFlagsOutputs,
    FleetOutputs,
    Mode,
    ServiceOutputs,
    build_color,
    build_feature_flags,
    build_fleet,
    build_service,
    feature_flag_names,
    fleet_names,
    parse_feature_flags,
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
    "FeatureFlagsOutputs",
    "FleetOutputs",
    "Mode",
    "ResourceType",
    "ServiceOutputs",
    "Weights",
    "build_color",
    "build_feature_flags",
    "build_fleet",
    "build_service",
    "component_token",
    "feature_flag_names",
    "fleet_names",
    "other_color",
    "parse_color",
    "parse_feature_flags",
    "parse_fleet",
    "parse_service",
    "service_names",
]
