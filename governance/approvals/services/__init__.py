"""Approvals services (commands); import from the sub-modules.

- ``requests``: ``request_submit``, ``request_update``, ``request_cancel``, ``requests_expire``
- ``decisions``: ``request_approve``, ``request_reject`` (separation of duties)
- ``chains``: ``chain_for``, ``step_eligible``, ``step_approvers``, ``approvals_needed``
- ``executions``: ``execution_start``, ``execution_retry``, ``execution_cancel``
- ``grants``: time-limited access (start, end, revoke, reconcile)
"""
