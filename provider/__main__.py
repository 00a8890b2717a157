"""Component-provider entry point, launched by the Pulumi CLI, which runs the directory holding PulumiPlugin.yaml.

`pulumi package add <this repo>.git/provider` runs it to read the schema (inferred from the components' args
TypedDicts and output annotations) and to construct components for programs in any language.
It runs as a script, so it imports the installed namespace by its absolute name.
"""

from pulumi.provider.experimental import component_provider_host
from zero_downtime.provider.catalog import PACKAGE_NAME, component_classes, package_version

if __name__ == "__main__":
    component_provider_host(components=component_classes(), name=PACKAGE_NAME, version=package_version())
