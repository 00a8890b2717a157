"""Component-provider entry point, launched by the Pulumi CLI through PulumiPlugin.yaml.

`pulumi package add <this repo>` runs it to read the schema (inferred from the components' args
TypedDicts and output annotations) and to construct components for programs in any language.
"""

import sys
from pathlib import Path

# The language host runs `python provider`, which puts only provider/ on sys.path; the
# components live next to it in the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from provider.catalog import PACKAGE_NAME, component_classes, package_version

if __name__ == "__main__":
    component_provider_host(components=component_classes(), name=PACKAGE_NAME, version=package_version())
