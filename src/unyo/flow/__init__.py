"""The shop's file (`unyo.yaml`): loading, defaults and validation with line numbers.

May import `unyo.domain`; must not import `unyo.app`, adapters, the CLI or the web layer.
"""

from unyo.flow.config import (
    AlertSettings,
    Config,
    ConfigError,
    ImportSettings,
    OutboxSettings,
    RmsSettings,
    SyncSettings,
    WebSettings,
    load_config,
    parse_duration,
)
from unyo.flow.mail import MailKindSettings, MailSettings

__all__ = [
    "AlertSettings",
    "Config",
    "ConfigError",
    "ImportSettings",
    "MailKindSettings",
    "MailSettings",
    "OutboxSettings",
    "RmsSettings",
    "SyncSettings",
    "WebSettings",
    "load_config",
    "parse_duration",
]
