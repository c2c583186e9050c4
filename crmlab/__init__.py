"""crmlab — analytics and modelling workbench for pharmaceutical commercial teams.

Data flows one way: ``crmlab.io`` (load + validate the data contract) →
``crmlab.features`` (panels) → ``crmlab.models`` (estimators) →
``crmlab.reporting`` (tables, plots, widgets) → notebooks.
"""

__version__ = "0.1.0"
