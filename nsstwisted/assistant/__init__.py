"""
The configuration assistant: one description of servers, images and stacks,
from which every configuration file, the RACF job and the units are
generated consistently.  Only L{nsstwisted.assistant.web} imports Twisted.
"""
