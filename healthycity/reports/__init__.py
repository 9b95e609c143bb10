"""Reports made from the workspace's data: HTML first, PDF from the same HTML."""
