"""Generates tunelab/example_data/churn.csv, the bundled example table (its CSV is committed).

It is synthetic on purpose: every column type tunelab handles appears in it (numbers with
gaps, low- and high-cardinality text, ISO dates, yes/no flags, an identifier), and the
target depends on them through a known, non-linear rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make_churn(rows: int = 800, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], size=rows, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west", "central", "islands"], size=rows)
    city = rng.choice([f"city_{i:02d}" for i in range(40)], size=rows)
    tenure = rng.integers(1, 72, size=rows)
    charges = np.round(rng.normal(60, 20, size=rows) + (plan == "premium") * 30, 2)
    calls = rng.poisson(1.5, size=rows)
    partner = rng.choice(["yes", "no"], size=rows)
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, rows), unit="D")
    last_login = rng.exponential(10, size=rows)
    city_effect = (np.array([int(c[-2:]) for c in city]) % 5 == 0) * 0.8
    logit = (
        -1.0
        - 0.05 * tenure
        + 0.6 * calls
        + 0.02 * (charges - 60)
        + 0.06 * last_login
        - 0.7 * (partner == "yes")
        + 0.5 * (plan == "basic")
        + city_effect
        + 0.4 * (signup.month.to_numpy() == 12)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(rows)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "plan": plan,
            "region": region,
            "city": city,
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "has_partner": partner,
            "days_since_login": np.round(last_login, 1),
            "churned": np.where(churned, "yes", "no"),
        }
    )
    for column, share in (("monthly_charges", 0.05), ("days_since_login", 0.1), ("region", 0.03)):
        frame.loc[rng.random(rows) < share, column] = np.nan
    return frame


if __name__ == "__main__":
    out = Path(__file__).with_name("churn.csv")
    make_churn().to_csv(out, index=False)
    print(f"wrote {out}")
