"""Sans-IO wire codecs: the NSS protocol and the NMI message family. Stdlib only."""
