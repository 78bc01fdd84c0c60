"""The crash log is a new private file: a symlink planted where it used to go is never followed."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result

VICTIM_TEXT = "the victim's own content\n"


def explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("something internal")


def planted(folder: Path, victim: Path) -> list[Path]:
    """Symlinks to `victim` at every name the crash log once took for this process in the next seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for ahead in range(-2, 30):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() + ahead))
        link = folder / f"cmkctl-crash-{stamp}-{os.getpid()}.log"
        if not link.is_symlink():
            link.symlink_to(victim)
            links.append(link)
    return links


def crashed(cmkctl: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("reconciler.manifest.loader.load", explode)
    result = cmkctl("validate", EXAMPLES / "astra-serverless-azure.yaml")
    assert result.code == 1 and "cmkctl hit a bug (RuntimeError)" in result.err, result.err
    return Path(result.err.split("the full traceback is in ")[1].split(". Please")[0])


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim" / "payroll.db"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


def test_the_crash_log_never_follows_a_symlink_planted_in_the_shared_temporary_folder(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: Path
) -> None:
    shared = tmp_path / "shared-tmp"
    links = planted(shared, victim)
    (shared / "cmkctl").symlink_to(victim.parent, target_is_directory=True)
    monkeypatch.delenv("CMKCTL_LOG_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    log = crashed(cmkctl, monkeypatch)
    assert victim.read_text() == VICTIM_TEXT and os.listdir(victim.parent) == ["payroll.db"]
    assert "something internal" in log.read_text()
    assert log not in links and not log.is_symlink()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    folder = log.parent
    assert folder.parent == shared and not folder.is_symlink()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()


def test_cmkctl_log_dir_gets_a_new_file_too(
    cmkctl: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: Path
) -> None:
    logs = tmp_path / "logs"
    links = planted(logs, victim)
    monkeypatch.setenv("CMKCTL_LOG_DIR", str(logs))
    log = crashed(cmkctl, monkeypatch)
    assert victim.read_text() == VICTIM_TEXT
    assert log.parent == logs and log not in links and not log.is_symlink()
    assert "something internal" in log.read_text() and stat.S_IMODE(log.stat().st_mode) == 0o600
