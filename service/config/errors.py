"""The one error the settings and the targets file raise."""


class ConfigError(Exception):
    """The settings or the targets file are wrong; the message says where, never a secret."""
