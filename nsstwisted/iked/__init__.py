"""
The IKE daemon (iked): its configuration, its NSS client per stack, its local
NMI and the IKEDService.
"""
