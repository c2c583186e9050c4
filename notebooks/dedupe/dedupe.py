# %% [markdown]
# # Doctors and accounts entered twice
#
# The same doctor is often entered twice in a CRM: by two reps, after a move between
# departments, or with the name typed differently (words swapped, another
# transliteration, a typo or a dropped letter). A doctor split over two IDs is half as big in the
# grading, their visits and prescriptions no longer meet, and one of the two looks lapsed.
# This report lists the likely duplicates, groups them with a proposed surviving ID and
# counts what they split. Names are compared inside crmlab only: nothing below shows one.

# %%
# %matplotlib inline

from crmlab.analyses import dedupe
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting.dedupe import (data_period, evidence_counts, key_findings, largest_cases,
                                     match_weights_image, notes, parameters_table)
from crmlab.reporting.findings import publish_findings, show_findings

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""
threshold = 0.5
accounts = True
u_max_pairs = 1000000
em_max_pairs = 2000000
m_floor = 0.01
top = 10

# %%
result = dedupe.run(data_dir, **dedupe.DedupeParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %%
findings = key_findings(result)
show_findings(findings)

# %%
print(rejects_note(result.rejects), *notes(result), sep="\n")

# %% [markdown]
# ## What the model learnt: match weights
# Splink's chart of the match weight of each comparison level (log2 of how much more
# often the level occurs among duplicates than among other pairs), estimated on this
# data. Bars to the right are evidence for a duplicate, to the left against.

# %%
match_weights_image(result.doctors_model)

# %% [markdown]
# ## Largest cases by volume
# Clusters of IDs that look like one doctor, largest prescription volume first. The
# surviving ID is the one with the most visits.

# %%
largest_cases(result)

# %% [markdown]
# ## Evidence among the listed doctor pairs
# `=` agrees, `≈` nearly agrees (name: same after folding spelling, or one letter apart;
# account: another account in the same city; title: one step apart; department size:
# within 25%), `≠` differs, `?` missing.

# %%
evidence_counts(result)

# %% [markdown]
# ## Accounts

# %%
largest_cases(result, "accounts")

# %% [markdown]
# ## Method
# Fellegi–Sunter record linkage with Splink on DuckDB. Candidate pairs share an account,
# or a city and a normalised name, its letters, or one of its words (blocking). Each pair
# is compared on name (normalised words in any order, after folding transliteration
# variants, Damerau–Levenshtein and Jaro–Winkler), account and city, specialty, title,
# department size and visits (one rep visiting both IDs in one month is evidence
# against; one ID's visits starting when the other's stop is evidence for). The u
# probabilities come from random pairs, the m probabilities from expectation
# maximisation on pairs rich in duplicates, with a floor `m_floor` so that no single
# field vetoes a match; an exact name counts less the more common it is. The prior
# probability of a match is the fixed point of its EM update over all candidate pairs.
# The surviving ID of a cluster is the one with the most visits. Review `clusters.csv`,
# then run any analysis on the merged base: `crmlab run ANALYSIS -p merge_duplicates=clusters.csv`.

# %% tags=["nbval-ignore-output"]
# m and u are sums over many pairs: their last digits may vary with the thread count
parameters_table(result)

# %%
result.save(out_dir)
publish_findings(out_dir, findings, data_period(result))
