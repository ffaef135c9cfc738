"""RQ workers: scorers, the scoring job, and the worker process with its periodic sweeper."""
