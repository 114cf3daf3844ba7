"""rehost.agent."""
