"""Helpers for the integration suite: a raw SMTP client, a queue file reader
and the object that runs one yubin daemon in a temp dir."""
