"""Plots of the data overview report."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def plot_trend(table: pd.DataFrame, title: str, ylabel: str):
    """Line chart of a month × region table."""
    fig, ax = plt.subplots()
    table.plot(ax=ax, marker=".")
    ax.set(title=title, xlabel="", ylabel=ylabel)
    ax.legend(title="region", ncol=2, fontsize="small")
    return fig
