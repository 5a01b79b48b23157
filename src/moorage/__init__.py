"""moorage: a declarative deploy engine for Docker Compose applications.

Data flows one way: inventory -> playbook -> plan -> apply -> report.
"""

__version__ = "0.1.0"
