"""What generated estates are made of: roles, teams, OS profiles, devices."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = (
    "web",
    "app",
    "db",
    "cache",
    "proxy",
    "mail",
    "dns",
    "ldap",
    "vpn",
    "jump",
    "ci",
    "build",
    "k8s",
    "mon",
    "log",
    "git",
    "wiki",
    "erp",
    "crm",
    "files",
)
TEAMS = ("fin", "hr", "eng", "ops", "sales", "lab", "research", "it")
PCI_DEVICES = ("0000:01:00.0", "0000:02:00.0", "0000:81:00.0")
SENSITIVE_NAMES = ("hr-payroll", "fin-ledger", "pki-root-ca", "hsm-bridge", "patient-records")


@dataclass(frozen=True, slots=True)
class OsProfile:
    """One operating system flavour: qemu ``ostype`` or lxc ``ostype`` plus agent info."""

    ostype: str
    label: str
    pretty: str
    kernel: str
    version_id: str
    os_id: str
    windows: bool = False


QEMU_OSES = (
    OsProfile(
        "l26", "debian12", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "12", "debian"
    ),
    OsProfile("l26", "ubuntu2404", "Ubuntu 24.04.1 LTS", "6.8.0-49-generic", "24.04", "ubuntu"),
    OsProfile(
        "l26",
        "rocky9",
        "Rocky Linux 9.5 (Blue Onyx)",
        "5.14.0-503.14.1.el9_5.x86_64",
        "9.5",
        "rocky",
    ),
    OsProfile(
        "win11",
        "win2022",
        "Microsoft Windows Server 2022 Standard",
        "10.0.20348",
        "2022",
        "mswindows",
        True,
    ),
    OsProfile(
        "win10", "win10", "Microsoft Windows 10 Enterprise", "10.0.19045", "10", "mswindows", True
    ),
    OsProfile("other", "appliance", "", "", "", ""),
    OsProfile("solaris", "solaris", "", "", "", ""),
)
_LINUX_NAMES = {"debian": "Debian GNU/Linux", "ubuntu": "Ubuntu", "rocky": "Rocky Linux"}


def agent_osinfo(profile: OsProfile) -> dict[str, str]:
    """What ``guest-get-osinfo`` answers on a Linux profile (os-release and uname);
    empty for the others, whose answer the agent handler derives from the ostype."""
    name = _LINUX_NAMES.get(profile.os_id)
    if name is None:
        return {}
    return {
        "id": profile.os_id,
        "name": name,
        "pretty-name": profile.pretty,
        "version": profile.pretty.removeprefix(name).strip(),
        "version-id": profile.version_id,
        "kernel-release": profile.kernel,
        "kernel-version": "#1 SMP PREEMPT_DYNAMIC",
        "machine": "x86_64",
    }


LXC_OSES = ("debian", "ubuntu", "alpine", "rockylinux", "archlinux")
QEMU_OS_WEIGHTS = (40, 25, 10, 12, 5, 5, 1)
