"""
The stack's IKEv2 runtime: what a stack needs to run the sans-IO engine of
L{nsstwisted.ike}, which is the protocol itself and is not here: the UDP
sockets, clock and signing round trips that drive it (L{ikestack}), the
IKE statements of the stack's policy file (L{ikepolicy}), the installation
of negotiated SAs (L{installer}), network namespaces (L{netns}), and the
key ring and signers of a stack that is not an NSS client (L{localring},
L{localsigners}).  It may import the stack model below it, iked's message
catalogue, and L{nsstwisted.ike}, C{protocols}, C{wire}, C{config} and
C{security}; never the NSS client room above it, iked's configuration or
its service.
"""
