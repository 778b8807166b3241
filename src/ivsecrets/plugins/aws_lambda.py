"""The rotation Lambda's former handler path, kept for deployed functions.

Use ``ivsecrets.aws_lambda.handler``; this one-line shim is the only module in ``plugins/`` that
imports upward (the layering test allows exactly this import).
"""

from ivsecrets.aws_lambda import handler as handler
