"""Adapters: the driver's ports implemented over AWS (boto3), the Pulumi Automation API, HTTP and
local files. Only the composition root (`driver/compose.py`) builds them."""
