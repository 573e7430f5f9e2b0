"""Asterisk: call events read from the Asterisk Manager Interface over TCP."""
