"""Twilio Programmable Voice: the incoming-call webhook, dial results and status callbacks."""
