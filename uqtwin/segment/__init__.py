"""uqtwin.segment"""
