"""The simulator's engine, one module per step; the public entry is :mod:`crmlab.simulate`."""
