"""Binotel: CRM webhooks (call settings, ringing, answered, hang-up, call completed)."""
