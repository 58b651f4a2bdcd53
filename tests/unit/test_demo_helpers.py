"""The demo's small decisions, without a broker: which topics are a run's, which
learners the report features, when topics are kept."""

from __future__ import annotations

import argparse

import pytest

from tools.demo import KEEP_ENV, featured_learners, is_run_topic, keep_requested


def test_a_runs_topics() -> None:
    run = "20261202-195256"
    assert is_run_topic(f"demo-{run}.xapi.statements", run)
    assert is_run_topic(f"demo-{run}-profiles-changelog", run)
    assert is_run_topic(f"demo-{run}-worker-__assignor-__leader", run)
    assert not is_run_topic("demo-20261202-195257.xapi.statements", run)
    assert not is_run_topic(f"demo-{run}7.xapi.statements", run)
    assert not is_run_topic("xapi.statements", run)
    assert not is_run_topic(f"demo-{run}", run)


def test_featured_learners_mix_personas() -> None:
    ranked = ["a1", "a2", "a3", "b1", "a4", "c1", "b2", "b3"]
    persona = {k: k[0] for k in ranked}.__getitem__
    assert featured_learners(ranked, persona, count=5) == ["a1", "a2", "b1", "c1", "b2"]
    # too few personas: the rest of the ranking fills up
    assert featured_learners(ranked, persona, count=7) == ["a1", "a2", "b1", "c1", "b2", "a3", "a4"]
    assert featured_learners([], persona) == []


@pytest.mark.parametrize(
    ("flag", "env", "keep"),
    [(False, None, False), (True, None, True), (False, "1", True), (False, "0", False)],
)
def test_keep_topics(
    monkeypatch: pytest.MonkeyPatch, flag: bool, env: str | None, keep: bool
) -> None:
    if env is None:
        monkeypatch.delenv(KEEP_ENV, raising=False)
    else:
        monkeypatch.setenv(KEEP_ENV, env)
    assert keep_requested(argparse.Namespace(keep_topics=flag)) is keep
