"""The two colors of a paired service, and a production traffic split between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ContractError

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other_color(color: Color) -> Color:
    """The color that is not `color`."""
    return "green" if color == "blue" else "blue"


def parse_color(value: object, key: str) -> Color:
    """`value` as a color, or ContractError naming `key`."""
    if value == "blue" or value == "green":
        return value
    raise ContractError(key, f"must be blue or green, got {value!r}")


@dataclass(frozen=True)
class Weights:
    """Production traffic split in whole percents; blue + green == 100."""

    blue: int
    green: int

    def __post_init__(self) -> None:
        for color, value in (("blue", self.blue), ("green", self.green)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise ContractError(f"weights.{color}", f"must be an integer 0-100, got {value!r}")
        if self.blue + self.green != 100:
            raise ContractError("weights", f"must sum to 100, got blue={self.blue} green={self.green}")

    @classmethod
    def shifted(cls, stable: Color, new_percent: int) -> Weights:
        """`new_percent` to the color that is not `stable`, the rest to `stable`."""
        if stable == "blue":
            return cls(blue=100 - new_percent, green=new_percent)
        return cls(blue=new_percent, green=100 - new_percent)

    @classmethod
    def all_to(cls, color: Color) -> Weights:
        """100% to `color`."""
        return cls.shifted(other_color(color), 100)

    def of(self, color: Color) -> int:
        """The percent `color` receives."""
        return self.blue if color == "blue" else self.green

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}
