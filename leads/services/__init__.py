"""Use cases of the leads app, one module per topic; import them from here.

Each writes everything it changes in one transaction, history rows included.
"""
