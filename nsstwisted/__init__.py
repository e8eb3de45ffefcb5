"""
nsstwisted: Network Security Services for IPsec, rebuilt on Twisted.

The package is a library first.  Its layers, lowest first, are C{wire} and
C{config} (codecs and parsers), C{security} (the external security manager),
C{ike}, C{protocols}, the daemons' services C{nssd} and C{iked}, the embedding
API C{client}, and the commands in C{cli}.
"""

__version__ = "0.1.0.dev0"
