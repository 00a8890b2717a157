"""Stack program of the checkout team: the service, wired to the platform stack's shared outputs."""

from pathlib import Path

import pulumi
from checkout_stack import build

services = build(pulumi.Config(), Path(__file__).resolve().parent)
# The release driver's contract (`zdd-release deploy --work-dir . --stack dev --service checkout`).
pulumi.export("services", {name: service.release_outputs for name, service in services.items()})
