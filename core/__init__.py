"""Brigadier core: the domain and its services. No transport imports here."""
