"""uqtwin.io"""
