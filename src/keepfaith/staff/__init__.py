"""Staff: accounts, roles from the policy, sessions, second factor, API keys."""
