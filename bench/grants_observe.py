"""What the grants benchmark watches: each grant as Proxmox shows it, and the grantees
opening consoles once their ACL entry is there (their proxy tasks must stop at the end)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests


@dataclass
class Tracked:
    """One grant as seen from Proxmox; times are epoch seconds."""

    grant_id: int
    userid: str
    path: str
    vmid: int
    starts: float
    ends: float
    downtime: bool
    seen_at: float | None = None
    gone_at: float | None = None
    console: str | None = None
    console_stopped_at: float | None = None


class Consoles(threading.Thread):
    """Each grantee opens a VNC console with a token of their own once their entry is
    there (what a user with the grant does); runs beside the poller so the poll keeps
    its pace."""

    def __init__(self, sim) -> None:
        super().__init__(daemon=True)
        self.sim = sim
        self.queue: list[Tracked] = []
        self.lock = threading.Lock()
        self.failures: list[str] = []
        self.stopping = False

    def open_for(self, grant: Tracked) -> None:
        with self.lock:
            self.queue.append(grant)

    def run(self) -> None:
        session = requests.Session()
        while not self.stopping:
            with self.lock:
                batch, self.queue = self.queue, []
            for grant in batch:
                try:
                    grant.console = self._open(session, grant)
                except (requests.RequestException, RuntimeError) as exc:
                    self.failures.append(f"{grant.userid}: {exc}")
            time.sleep(0.2)

    def _open(self, session: requests.Session, grant: Tracked) -> str:
        sim = self.sim
        api = f"{sim.url}/api2/json"
        # The poller uses the handle's session; a thread of its own gets its own.
        token = session.post(
            f"{api}/access/users/{grant.userid}/token/console",
            data={"privsep": 0},
            headers={"Authorization": f"PVEAPIToken={sim.root_token_id}={sim.root_token_secret}"},
            verify=str(sim.cert_file),
            timeout=30,
        )
        if token.status_code != 200:
            raise RuntimeError(f"token: {token.status_code} {token.text}")
        with sim.cluster.lock:
            node = sim.cluster.estate.guests[grant.vmid].node
        secret = token.json()["data"]["value"]
        response = session.post(
            f"{api}/nodes/{node}/qemu/{grant.vmid}/vncproxy",
            headers={"Authorization": f"PVEAPIToken={grant.userid}!console={secret}"},
            verify=str(sim.cert_file),
            timeout=30,
        )
        if response.status_code != 200:
            raise RuntimeError(f"vncproxy: {response.status_code} {response.text}")
        return response.json()["data"]["upid"]


def acl_entries(sim) -> set[tuple[str, str, str]]:
    """Proxmox's ACL entries, read over the API as root."""
    acl = sim.api("GET", "/access/acl")
    acl.raise_for_status()
    return {(a["path"], a["ugid"], a["roleid"]) for a in acl.json()["data"]}


def consoles_ended(sim, grants: list[Tracked]) -> None:
    """Record when each console task ended, from the simulator's own task table (its
    clock is real time; ``endtime`` has whole seconds): exact, whatever the poll rate."""
    with sim.cluster.lock:
        tasks = sim.cluster.tasks.tasks
        for grant in grants:
            task = tasks.get(grant.console) if grant.console else None
            if task is not None and task.endtime is not None:
                grant.console_stopped_at = float(task.endtime)
