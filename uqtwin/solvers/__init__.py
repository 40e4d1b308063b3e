"""uqtwin.solvers"""
