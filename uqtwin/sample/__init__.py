"""uqtwin.sample"""
