"""
The stack as an NSS client: its connection to nssd, with primary/backup
failover, heartbeats, password or PassTicket logon and refresh
(L{connection}); the signer and verifier that have nssd make and check the
stack's IKE signatures (L{signers}); and iked's answers to the NMI requests
that reach it, routed through nssd or on its local socket (L{management}).
It may import the IKEv2 runtime and the stack model below it, iked's
configuration and message catalogue, and L{nsstwisted.client},
C{protocols}, C{ike}, C{wire}, C{config} and C{security}; never
L{nsstwisted.nssd}, nor iked's service.
"""
