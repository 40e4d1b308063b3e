"""uqtwin.engine"""
