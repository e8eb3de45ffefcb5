"""Thin Twisted protocols and factories over the wire codecs."""
