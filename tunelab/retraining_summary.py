"""The retraining record of a model card in words: warm start, champion decision, drift.

Shared by the Prefect run's summary artifact, the HTML report and the CLI, so all three say
the same thing. Plain text only (no pandas or plotting), from the card as a dict.
"""

from __future__ import annotations

from typing import Any


def decision_sentence(champion: dict[str, Any], name: str, version: int) -> str:
    """Where the alias points after the run, and why."""
    alias = champion["alias"]
    if champion["promoted"]:
        return f"`{alias}` moved to {name} v{version}: {champion['reason']}."
    return f"`{alias}` stays at {name} v{champion['version']}: {champion['reason']}."


def drift_sentence(drift: dict[str, Any]) -> str:
    features = drift.get("features") or []
    drifted = [f for f in features if f.get("drifted")]
    threshold = drift.get("threshold")
    if not drifted:
        worst = max((f["psi"] for f in features), default=0.0)
        return (
            f"no drift against {drift['reference']} ({len(features)} features, largest PSI "
            f"{worst:.3f}, threshold {threshold:g})"
        )
    names = ", ".join(f"`{f['column']}` ({f['psi']:.2f})" for f in drifted[:5])
    return (
        f"**{len(drifted)} of {len(features)} features drifted** against {drift['reference']} "
        f"(PSI above {threshold:g}): {names}"
    )


def retraining_markdown(card: dict[str, Any], name: str, version: int) -> str:
    """Markdown lines for a run's summary; empty for a run that was not a retrain."""
    lines = []
    champion, drift, parent = card.get("champion"), card.get("drift"), card.get("parent")
    if champion:
        lines.append(f"**Champion decision:** {decision_sentence(champion, name, version)}")
        if champion.get("score") is not None:
            lines += [
                "",
                "| on this run's test rows | version | score |",
                "|---|---|---|",
                f"| champion (`{champion['alias']}`) | v{champion['version']} "
                f"| {champion['score']:.4f} |",
                f"| challenger | v{version} | {champion['challenger_score']:.4f} |",
            ]
        lines.append("")
    if parent:
        lines += [f"**Warm start:** from {parent['name']} v{parent['version']}.", ""]
    if drift:
        lines += [f"**Data drift:** {drift_sentence(drift)}.", ""]
    return "\n".join(lines)


def decision_line(champion: dict[str, Any] | None, name: str, version: int) -> str:
    """The CLI's line about the decision (plain text, no Markdown)."""
    if not champion:
        return ""
    return "  champion: " + decision_sentence(champion, name, version).replace("`", "")
