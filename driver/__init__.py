"""The release driver (`zdd-release`).

cli.py       flags -> requests; prints results; maps errors to exit codes
compose.py   the composition root: builds adapters, picks the strategy, runs the machine
core/        the pure core: plan, analysis, status, machine, strategies, ports, errors
adapters/    AWS (boto3), Automation API, HTTP checks and hooks, the file journal
"""
