"""Outcomes: indicators, observations, PHE statistics, judgements, imports and exports."""
