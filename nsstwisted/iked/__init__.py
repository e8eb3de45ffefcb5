"""
The IKE daemon (iked), in three rooms named after its parts: the stack as
an NSS client (L{nssclient}), the stack's IKEv2 runtime (L{keyexchange})
and the stack model that the NMI reports (L{stackmodel}).  At the top
only the L{service.IKEDService}, the configuration (L{configuration}) and
the message catalogue (L{messages}).  The rooms import downward only:
the NSS client may use the configuration, which reads the IKEv2 runtime's
policy statements, which use the stack model.
"""
