"""Dashboards read the event log and the other apps' tables; they own no tables yet."""
