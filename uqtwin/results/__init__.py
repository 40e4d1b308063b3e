"""uqtwin.results"""
