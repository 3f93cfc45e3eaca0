"""The README's promises that code can check (the configuration table: test_settings)."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_the_demo_logins_seed_demo_creates():
    from governance.accounts.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

    assert f"`{DEMO_PASSWORD}`" in README
    missing = [demo.username for demo in DEMO_USERS if f"| `{demo.username}` |" not in README]
    assert not missing, f"README's demo logins lack {missing}"


def test_readme_commands_exist_in_the_makefile():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    for target in ("demo", "test", "lint", "format", "bench", "install", "clean"):
        assert f"make {target}" in README
        assert f"\n{target}:" in makefile, target
