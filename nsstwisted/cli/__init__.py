"""The operator commands: argument parsing and report formatting only."""
