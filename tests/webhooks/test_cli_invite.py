"""``brigadier worker-invite``: a deep link for the worker bot, one-line refusals."""

import re
import shutil
from pathlib import Path

import pytest

from tests.webhooks.test_cli import REPO_CONFIG, assert_refused, brigadier


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-invite")
    shutil.copy(REPO_CONFIG, folder / "config.toml")
    assert brigadier(folder, "migrate", db="invite.db").returncode == 0
    assert brigadier(folder, "seed-demo", db="invite.db", timeout=180).returncode == 0
    return folder


def test_worker_invite_prints_a_deep_link(home):
    result = brigadier(home, "worker-invite", "1", "--language", "en", db="invite.db")
    assert result.returncode == 0, result.stderr
    link = result.stdout.splitlines()[0]
    assert re.fullmatch(r"https://t\.me/brigadier_worker_bot\?start=[A-Za-z0-9_-]{32}", link)


def test_worker_invite_refuses_an_unknown_worker(home):
    assert_refused(brigadier(home, "worker-invite", "Nobody Here", db="invite.db"),
                   "worker Nobody Here not found")
