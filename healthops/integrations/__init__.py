"""Clients for the systems outside HealthOps: payers, the ERP, the workforce system and messaging."""
