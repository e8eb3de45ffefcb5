"""
The sans-IO IKEv2 engine (RFC 7296): messages, key derivation, SA state
machines.  It imports no Twisted.
"""
