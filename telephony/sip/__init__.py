"""Plain SIP: a listener the PBX forks inbound INVITEs to; it rings, then refuses."""
