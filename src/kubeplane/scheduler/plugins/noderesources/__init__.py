"""NodeResourcesFit (requests fit, scoring strategies) and NodeResourcesBalancedAllocation."""
