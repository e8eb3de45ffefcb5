"""The brace-statement configuration language shared by nssd.conf, iked.conf and policy files."""
