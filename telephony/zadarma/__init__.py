"""Zadarma cloud PBX: NOTIFY_* webhooks with their URL echo check and signature."""
