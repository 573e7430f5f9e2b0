"""``brigadier create-user`` and the demo's users, run for real as separate processes."""

import shutil
from pathlib import Path

import pytest

from tests.webhooks.test_cli import REPO_CONFIG, assert_refused, brigadier


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-users")
    shutil.copy(REPO_CONFIG, folder / "config.toml")
    return folder


@pytest.fixture(scope="module")
def migrated(home: Path) -> str:
    result = brigadier(home, "migrate", db="users.db")
    assert result.returncode == 0, result.stderr
    return "users.db"


def test_create_user_reads_the_password_from_a_file(home, migrated):
    secret = home / "password.txt"
    secret.write_text("a long password\n")
    result = brigadier(home, "create-user", "Olha", "--role", "operator", "--name", "Olha K",
                       "--extension", "101", "--password-file", str(secret), db=migrated)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "user olha (operator) created"
    assert "a long password" not in result.stdout + result.stderr

    again = brigadier(home, "create-user", "olha", "--role", "manager", "--name", "X",
                      "--password-file", str(secret), db=migrated)
    assert_refused(again, "the login “olha” is already taken")


def test_create_user_refuses_bad_input_in_one_line(home, migrated):
    assert_refused(brigadier(home, "create-user", "x", "--role", "king", "--name", "X",
                             db=migrated), "invalid choice")
    assert_refused(brigadier(home, "create-user", "x", "--role", "operator", "--name", "X",
                             "--password-file", str(home / "missing.txt"), db=migrated),
                   "cannot read")
    short = home / "short.txt"
    short.write_text("short\n")
    assert_refused(brigadier(home, "create-user", "x", "--role", "operator", "--name", "X",
                             "--password-file", str(short), db=migrated),
                   "at least 8 characters")


def test_demo_users_get_the_demo_password_only_when_it_is_set(home):
    assert brigadier(home, "migrate", db="demo-users.db").returncode == 0
    plain = brigadier(home, "seed-demo", db="demo-users.db", timeout=180)
    assert plain.returncode == 0, plain.stderr
    assert "brigadier create-user" in plain.stdout
    with_password = brigadier(home, "seed-demo", db="demo-users.db",
                              env={"BRIGADIER__SECRETS__DEMO_PASSWORD": "demo password 1"})
    assert with_password.returncode == 0, with_password.stderr
    assert "admin, operator, manager can log in" in with_password.stdout
