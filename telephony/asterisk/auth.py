"""AMI authenticates us, not the other way round: ``Action: Login`` with the manager user from
``telephony.ami_username`` and its secret ``ami_password``; manager.conf limits that user to
``read=call`` from our address. The connection stays on the PBX's private network."""

from __future__ import annotations

from collections.abc import Mapping

from core.config import Config
from core.errors import ConfigError

LOGIN_ACTION_ID = "brigadier-login"


def login_action(config: Config) -> Mapping[str, str]:
    password = config.secrets.ami_password
    if not password:
        raise ConfigError(
            "config_invalid", file="secrets", key="secrets.ami_password",
            reason="telephony.ami_enabled needs the AMI user's secret",
        )
    return {
        "Action": "Login",
        "ActionID": LOGIN_ACTION_ID,
        "Username": config.telephony.ami_username,
        "Secret": password,
        "Events": "call",
    }


def login_accepted(message: Mapping[str, str]) -> bool | None:
    """True or False once the login's answer arrives; None for anything else."""
    if message.get("ActionID") != LOGIN_ACTION_ID or "Response" not in message:
        return None
    return message["Response"] == "Success"
