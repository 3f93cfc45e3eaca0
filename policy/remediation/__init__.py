"""Executors that carry out remediations in Proxmox, and the runner that steps them.

``remediation_step(remediation_id=...)`` is the one entry point (called by the Celery
task ``policy.tasks.remediation_run``); ``remediations_queue(ids)`` queues steps after
the caller's transaction commits.
"""

from policy.remediation.queue import remediations_queue
from policy.remediation.runner import Step, remediation_step

__all__ = ["Step", "remediation_step", "remediations_queue"]
