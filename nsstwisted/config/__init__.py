"""
The brace-statement configuration language shared by nssd.conf, iked.conf and
policy files.
"""

from nsstwisted.config.parser import (
    MAX_CONFIG_SIZE,
    ConfigurationError,
    Setting,
    Statement,
    format_value,
    parse_config,
    read_config,
)

__all__ = [
    "MAX_CONFIG_SIZE",
    "ConfigurationError",
    "Setting",
    "Statement",
    "format_value",
    "parse_config",
    "read_config",
]
