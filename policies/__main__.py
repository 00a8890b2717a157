"""CrossGuard entry point: `pulumi preview --policy-pack policies`.

The only module that builds `PolicyPack`: constructing it starts the analyzer's gRPC server and
blocks. Tests and `policies.offline_check` import `policies.pack` instead.
"""

import sys
from pathlib import Path

# The CLI runs this file with policies/ on sys.path. Swap it for the project root: the validators
# import `components` and `policies`, and modules here (kubernetes.py, stack.py) must not shadow
# top-level packages of the same name.
_PACK_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PACK_DIR]
sys.path.insert(0, str(_PACK_DIR.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, all_policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
