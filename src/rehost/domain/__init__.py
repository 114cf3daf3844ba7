"""Pure domain of rehost: ids, errors, states, rules, quotas, models (no IO, clock or random)."""
