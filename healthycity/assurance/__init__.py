"""Service-change assurance: proposals assessed against the Mayor's six assurances,
the NHS tests and the bed test, from draft to a published assessment."""
