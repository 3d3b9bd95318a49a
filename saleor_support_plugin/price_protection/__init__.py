"""Price protection: refund the difference when something a customer bought gets cheaper.

`policy` decides amounts (a replaceable class), `selectors` finds eligible lines
in one statement, `services` creates claims and moves them through their states,
`refunds` executes a claim's refund through the host's port exactly once.
"""
