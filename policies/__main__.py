"""CrossGuard entry point: `pulumi preview --policy-pack policies`.

The only module that builds `PolicyPack`: constructing it starts the analyzer's gRPC server and
blocks. Tests and `zero_downtime.policies.offline_check` import `zero_downtime.policies.pack` instead.
The CLI runs this file as a script, so it imports the installed namespace by its absolute name
(the pack's virtualenv is the project's, which holds the checkout in editable mode).
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from zero_downtime.policies.pack import PACK_NAME, all_policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
