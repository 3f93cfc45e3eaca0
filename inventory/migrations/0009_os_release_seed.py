"""Seed the OS release table with end-of-life dates published by the vendors.

Dates are the end of the support a plain subscription or free use gets (paid extended
programmes such as Ubuntu Pro/ESM, RHEL ELS or Windows ESU are not counted): Debian's
LTS end, Ubuntu's end of standard support, Red Hat's end of maintenance support, the
Rocky and AlmaLinux end of security support, Microsoft's end of extended support.
Only dates known for sure are given; admins add or correct rows on the page.
"""

from datetime import date

from django.db import migrations

# (label, agent os_id, agent version_id, end of life, note)
AGENT_RELEASES = [
    ("Debian 10 (buster)", "debian", "10", date(2024, 6, 30), "Debian LTS ended"),
    ("Debian 11 (bullseye)", "debian", "11", date(2026, 8, 31), "end of Debian LTS"),
    ("Debian 12 (bookworm)", "debian", "12", date(2028, 6, 30), "end of Debian LTS"),
    ("Ubuntu 18.04 LTS", "ubuntu", "18.04", date(2023, 5, 31), "end of standard support"),
    ("Ubuntu 20.04 LTS", "ubuntu", "20.04", date(2025, 5, 31), "end of standard support"),
    ("Ubuntu 22.04 LTS", "ubuntu", "22.04", None, "standard support until April 2027"),
    ("Ubuntu 24.04 LTS", "ubuntu", "24.04", None, "standard support until April 2029"),
    ("RHEL 7", "rhel", "7", date(2024, 6, 30), "end of maintenance support"),
    ("RHEL 8", "rhel", "8", date(2029, 5, 31), "end of maintenance support"),
    ("RHEL 9", "rhel", "9", date(2032, 5, 31), "end of maintenance support"),
    ("CentOS Linux 7", "centos", "7", date(2024, 6, 30), "end of life"),
    ("CentOS Linux 8", "centos", "8", date(2021, 12, 31), "end of life"),
    ("Rocky Linux 8", "rocky", "8", date(2029, 5, 31), "end of security support"),
    ("Rocky Linux 9", "rocky", "9", date(2032, 5, 31), "end of security support"),
    ("AlmaLinux 8", "almalinux", "8", date(2029, 3, 1), "end of security support"),
    ("AlmaLinux 9", "almalinux", "9", date(2032, 5, 31), "end of security support"),
    ("Windows 7", "mswindows", "7", date(2020, 1, 14), "end of extended support"),
    ("Windows 8.1", "mswindows", "8.1", date(2023, 1, 10), "end of extended support"),
    ("Windows 10", "mswindows", "10", date(2025, 10, 14), "end of support (Home, Pro)"),
    ("Windows Server 2008 R2", "mswindows", "2008r2", date(2020, 1, 14), "end of extended support"),
    ("Windows Server 2012", "mswindows", "2012", date(2023, 10, 10), "end of extended support"),
    (
        "Windows Server 2012 R2",
        "mswindows",
        "2012r2",
        date(2023, 10, 10),
        "end of extended support",
    ),
    ("Windows Server 2016", "mswindows", "2016", date(2027, 1, 12), "end of extended support"),
    ("Windows Server 2019", "mswindows", "2019", date(2029, 1, 9), "end of extended support"),
    ("Windows Server 2022", "mswindows", "2022", date(2031, 10, 14), "end of extended support"),
]

# Proxmox ostypes that name only releases past their end (the latest of them counts).
OSTYPE_RELEASES = [
    ("Windows 2000 (ostype w2k)", "w2k", date(2010, 7, 13)),
    ("Windows XP (ostype wxp)", "wxp", date(2014, 4, 8)),
    ("Windows Server 2003 (ostype w2k3)", "w2k3", date(2015, 7, 14)),
    ("Windows Vista (ostype wvista)", "wvista", date(2017, 4, 11)),
    ("Windows Vista/Server 2008 (ostype w2k8)", "w2k8", date(2020, 1, 14)),
    ("Windows 7/Server 2008 R2 (ostype win7)", "win7", date(2020, 1, 14)),
    ("Windows 8.x/Server 2012 (R2) (ostype win8)", "win8", date(2023, 10, 10)),
]


def seed(apps, schema_editor):
    OsRelease = apps.get_model("inventory", "OsRelease")
    rows = [
        OsRelease(label=label, os_id=os_id, version=version, end_of_life=eol, note=note)
        for label, os_id, version, eol, note in AGENT_RELEASES
    ]
    rows += [
        OsRelease(label=label, ostype=ostype, end_of_life=eol, note="every release it covers")
        for label, ostype, eol in OSTYPE_RELEASES
    ]
    OsRelease.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    OsRelease = apps.get_model("inventory", "OsRelease")
    OsRelease.objects.filter(os_id__in={r[1] for r in AGENT_RELEASES}).delete()
    OsRelease.objects.filter(ostype__in={r[1] for r in OSTYPE_RELEASES}).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0008_guest_os")]

    operations = [migrations.RunPython(seed, unseed)]
