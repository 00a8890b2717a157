"""The release driver's pure core: decisions only, no I/O.

It imports nothing but the standard library and `zero_downtime.contract` (tests/test_layers.py
fails if boto3, pulumi, httpx, subprocess or an adapter appears here). Everything it does to the
world goes through the ports in `ports.py`.

- `plan`: release strategies -> the traffic steps.
- `analysis`: one metrics window -> a verdict.
- `status`: the typed, frozen status of a release and the journal record that carries it whole.
- `machine`: the one run loop every strategy shares.
- `service`, `fleet`: the strategies (service traffic between colors; fleet instance refresh).
- `ports`: the Protocols adapters implement, and the values that cross them.
- `errors`: every error the driver raises.
"""
