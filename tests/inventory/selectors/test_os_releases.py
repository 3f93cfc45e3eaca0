"""End-of-life matching: the agent's id and version first, the config ostype else."""

from __future__ import annotations

from datetime import date

import pytest

from inventory.models import OsRelease, VirtualMachine
from inventory.selectors.os_releases import (
    Release,
    eol_q,
    os_key_q,
    release_match,
    releases_load,
    vm_os,
)
from tests.inventory.os_estate import make_os_estate

TODAY = date(2026, 11, 27)
RELEASES = [
    Release("Debian 10", "debian", "10", "", date(2024, 6, 30)),
    Release("Debian 12", "debian", "12", "", date(2028, 6, 30)),
    Release("Rocky Linux 9", "rocky", "9", "", date(2032, 5, 31)),
    Release("Windows 8/2012 (ostype)", "", "", "win8", date(2023, 10, 10)),
    Release("Windows 7 (ostype)", "", "", "win7", date(2020, 1, 14)),
]


@pytest.mark.parametrize(
    ("os_id", "version", "ostype", "label", "ended"),
    [
        ("debian", "10", "l26", "Debian 10", True),
        ("debian", "12", "l26", "Debian 12", False),
        ("rocky", "9.5", "l26", "Rocky Linux 9", False),  # a point release matches its major
        ("rocky", "95", "l26", None, None),  # but not a longer number
        ("", "", "win7", "Windows 7 (ostype)", True),  # old ostypes say it alone
        ("", "", "l26", None, None),  # l26 says nothing
        ("mswindows", "2022", "win8", "Windows 8/2012 (ostype)", True),  # no agent row: ostype
    ],
)
def test_release_match(os_id, version, ostype, label, ended) -> None:
    release = release_match(RELEASES, os_id=os_id, version_id=version, ostype=ostype)
    assert (release.label if release else None) == label
    assert (release.ended(TODAY) if release else None) == ended


def test_agent_answer_wins_over_the_config_ostype() -> None:
    with_row = [*RELEASES, Release("Windows Server 2022", "mswindows", "2022", "", None)]
    release = release_match(with_row, os_id="mswindows", version_id="2022", ostype="win8")
    assert release.label == "Windows Server 2022"
    assert not release.ended(TODAY)  # no date: never end of life


@pytest.mark.django_db
def test_seeded_dates_flag_the_well_known_ends() -> None:
    ended = {r.label for r in releases_load() if r.ended(TODAY)}
    assert {"Debian 10 (buster)", "Ubuntu 18.04 LTS", "CentOS Linux 7", "RHEL 7"} <= ended
    assert {"Windows Server 2012 R2", "Windows 10"} <= ended
    assert not {"Debian 12 (bookworm)", "RHEL 9", "Windows Server 2022"} & ended
    assert OsRelease.objects.get(os_id="mswindows", version="2019").end_of_life == date(2029, 1, 9)


@pytest.mark.django_db
def test_sql_condition_agrees_with_the_python_rule() -> None:
    vms = make_os_estate("pve-eolq")
    releases = releases_load()
    ended = set(
        VirtualMachine.objects.filter(eol_q(releases, today=TODAY)).values_list("pk", flat=True)
    )
    expected = set()
    for vm in VirtualMachine.objects.filter(pk__in=[v.pk for v in vms.values()]):
        if vm_os(vm, today=TODAY)["eol"]:
            expected.add(vm.pk)
    assert ended == expected == {vms["deb10"].pk, vms["win7cfg"].pk}


@pytest.mark.django_db
def test_os_filter_keys() -> None:
    vms = make_os_estate("pve-oskey")
    assert os_key_q("nonsense") is None

    def names(key: str) -> set[str]:
        return set(VirtualMachine.objects.filter(os_key_q(key)).values_list("name", flat=True))

    assert names("debian:10") == {vms["deb10"].name}
    # Only guests whose agent never answered count under their ostype.
    assert names("ostype:l26") == {vms["l26cfg"].name}
