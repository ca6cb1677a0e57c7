"""Analysis of stored and labeled data: evaluation against labels, feedback as labels."""
