"""CoordConv for cnndsl (a plugin: see op.py for the operator, modules.py for the layer).

Nothing is imported here: code that cnndsl generates imports
``cnndsl_coordconv.modules`` and must run where only torch and this package are
installed, without cnndsl.
"""
