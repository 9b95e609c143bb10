"""Transformation portfolio and devolution register: programmes, budgets, spend,
milestones, delivery confidence, risks, leads; MoU areas, pledges, pilots and funds."""
