"""
The stack model that the NMI reports: a stack's IP filter sets
(L{filters}), its IKE and dynamic tunnels (L{tunnels}, filled from the
engine's SAs by L{tunnelfill}), its statistics (L{statistics}) and its
interfaces (L{interfaces}), held together by L{stack.StackModel}; and the
record bridges that answer the NMI requests about them in the records of
L{nsstwisted.wire} (L{filterreport}, L{tunnelreport}, L{stackreport}).
It is iked's lowest room: it may import iked's message catalogue,
L{nsstwisted.wire}, the SA values of L{nsstwisted.ike} and Twisted's
logger, but none of iked's other rooms, its configuration or its service.
"""
