"""Sweeps: ``solve_many`` on the calling thread, a local process pool and a real Dask
LocalCluster; a failing scenario never loses the others; weight sensitivity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from matcher.domain import Round
from matcher.formats import load_round
from matcher.result import Result
from matcher.solving import SolveParams, solve
from matcher.whatif import (
    DEFAULT_PARAMS,
    InlineExecutor,
    Scenario,
    ScenarioFailure,
    ScenarioOutcome,
    Sensitivity,
    outcomes_frame,
    solve_many,
    weight_sensitivity,
)

ROOT = Path(__file__).resolve().parent.parent
PARAMS = SolveParams(workers=1, time_limit_s=30)


@pytest.fixture(scope="module")
def pilot() -> Round:
    """The 8-pharmacist single-stream sample: solved to optimality in well under a second,
    so a sweep's time is the executor's overhead."""
    return load_round(ROOT / "data" / "samples" / "single-stream.json")


def _scenarios(base: Round) -> list[Scenario]:
    good = [Scenario(f"htr={v}", base, [{"op": "set_weights", "weights": {"hard_to_recruit": v}}])
            for v in (0, 30, 90)]
    bad = Scenario("broken", base, [{"op": "remove_placement", "placement": "NO-SUCH"}])
    return [*good[:2], bad, good[2]]


def _expected(base: Round) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for s in _scenarios(base):
        if s.name != "broken":
            out[s.name] = solve(s.apply(), PARAMS).objective
    return out


def _check(outcomes: list[ScenarioOutcome], base: Round) -> None:
    by_name = dict(outcomes)
    assert sorted(by_name) == ["broken", "htr=0", "htr=30", "htr=90"]
    broken = by_name.pop("broken")
    assert isinstance(broken, ScenarioFailure)
    assert broken.kind == "invalid"
    assert [(p.list, p.index, p.code) for p in broken.problems] == [
        ("overrides", 0, "unknown_reference")]
    assert "remove_placement NO-SUCH" in broken.message
    expected = _expected(base)
    for name, outcome in by_name.items():
        assert isinstance(outcome, Result)
        assert outcome.status == "optimal"
        assert outcome.objective == expected[name]
        assert outcome.stats["workers"] == 1


def test_inline_executor_solves_in_order_and_keeps_going(pilot: Round) -> None:
    outcomes = list(solve_many(_scenarios(pilot), PARAMS, executor=InlineExecutor(),
                               progress=False))
    assert [o.name for o in outcomes] == ["htr=0", "htr=30", "broken", "htr=90"]
    assert [o.ok for o in outcomes] == [True, True, False, True]
    assert outcomes[2].result is None
    _check(outcomes, pilot)


def test_local_process_pool(pilot: Round) -> None:
    outcomes = list(solve_many(_scenarios(pilot), PARAMS, max_workers=2, progress=False))
    _check(outcomes, pilot)


def test_dask_local_cluster(pilot: Round) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            outcomes = list(solve_many(_scenarios(pilot), PARAMS, executor=client,
                                       progress=False))
            assert len(client.scheduler_info()["workers"]) == 2
        _check(outcomes, pilot)
        # The scheduler's address: the sweep makes its own client and closes it after.
        by_address = list(solve_many(_scenarios(pilot), PARAMS,
                                     executor=cluster.scheduler_address, progress=False))
        _check(by_address, pilot)
        assert not cluster.scheduler.clients.keys() - {"fire-and-forget"}


def test_without_the_dask_extra_the_sweep_says_what_to_install() -> None:
    from matcher.extras import MissingExtraError, missing, require

    assert missing("dask", ["dask", "no_such_module_here"]) == ("no_such_module_here",)
    with pytest.raises(MissingExtraError) as caught:
        require("dask", "the Dask sweep backend", ["no_such_module_here"])
    assert str(caught.value) == (
        "the Dask sweep backend needs the dask extra: pip install 'spin-matcher[dask]'")
    assert isinstance(caught.value, ImportError)


def test_an_unexpected_error_is_a_failure_too(
    pilot: Round, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matcher.solving

    real = matcher.solving.solve

    def flaky(rnd: Round, params: SolveParams | None = None) -> Result:
        if rnd.weights.hard_to_recruit == 30:
            raise RuntimeError("solver exploded")
        return real(rnd, params)

    monkeypatch.setattr(matcher.solving, "solve", flaky)
    outcomes = dict(solve_many(_scenarios(pilot), PARAMS, executor=InlineExecutor()))
    failure = outcomes["htr=30"]
    assert isinstance(failure, ScenarioFailure)
    assert failure.kind == "error"
    assert failure.message.startswith("RuntimeError: solver exploded")
    assert isinstance(outcomes["htr=0"], Result)
    assert isinstance(outcomes["htr=90"], Result)


def test_a_task_that_cannot_run_is_a_failure(pilot: Round) -> None:
    class Refusing(InlineExecutor):
        calls = 0

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 2:
                return super().submit(_raise)
            return super().submit(fn, *args, **kwargs)

    outcomes = dict(solve_many(_scenarios(pilot), PARAMS, executor=Refusing()))
    failure = outcomes["htr=30"]
    assert isinstance(failure, ScenarioFailure)
    assert failure.kind == "error"
    assert "worker lost" in failure.message
    assert sum(isinstance(o, Result) for o in outcomes.values()) == 2


def _raise() -> None:
    raise OSError("worker lost")


def test_names_must_be_unique(pilot: Round) -> None:
    twice = [Scenario("same", pilot), Scenario("same", pilot)]
    with pytest.raises(ValueError, match="repeated: same"):
        list(solve_many(twice, executor=InlineExecutor()))


def test_nothing_to_do_yields_nothing() -> None:
    assert list(solve_many([])) == []


def test_each_solve_uses_one_search_worker_by_default(pilot: Round) -> None:
    assert DEFAULT_PARAMS.workers == 1
    all_cores = SolveParams(workers=0, time_limit_s=10, progress=lambda p: None)
    (_, outcome), = solve_many([Scenario("one", pilot)], all_cores, executor=InlineExecutor())
    assert isinstance(outcome, Result)
    assert outcome.stats["workers"] == 1


def test_stopping_early_cancels_what_has_not_started(pilot: Round) -> None:
    many = [Scenario(f"s{i}", pilot, [{"op": "set_weights", "weights": {"travel": i}}])
            for i in range(6)]
    gen: Iterator[ScenarioOutcome] = solve_many(many, PARAMS, max_workers=1, progress=False)
    first = next(gen)
    gen.close()  # shuts the pool down, cancelling the queued scenarios
    assert first.ok


def test_progress_bar_on_request(pilot: Round, capsys: pytest.CaptureFixture[str]) -> None:
    list(solve_many(_scenarios(pilot), PARAMS, executor=InlineExecutor(), progress=True))
    assert "4/4" in capsys.readouterr().err


def test_outcomes_frame(pilot: Round) -> None:
    outcomes = list(solve_many(_scenarios(pilot), PARAMS, executor=InlineExecutor()))
    frame = outcomes_frame(outcomes)
    assert list(frame.scenario) == ["htr=0", "htr=30", "broken", "htr=90"]
    assert list(frame.status) == ["optimal", "optimal", "invalid", "optimal"]
    assert frame.loc[2, "error"] == (
        "the round has 1 problem: overrides[#1].placement: remove_placement NO-SUCH: "
        "unknown placement id 'NO-SUCH'")
    assert frame.loc[0, "hard_to_recruit_fill"] == outcomes[0].outcome.kpis[  # type: ignore[union-attr]
        "hard_to_recruit_fill"]


def test_the_error_column_holds_the_whole_error(pilot: Round) -> None:
    two = Scenario("two typos", pilot, [
        {"op": "remove_placement", "placement": "NO-SUCH"},
        {"op": "set_unavailable", "pharmacist": "PH-NOBODY", "periods": ["R1"]},
    ])
    (_, failure), = solve_many([two], PARAMS, executor=InlineExecutor())
    assert isinstance(failure, ScenarioFailure)
    error = outcomes_frame([ScenarioOutcome("two typos", failure)]).loc[0, "error"]
    assert error == "the round has 2 problems: " + "; ".join(
        f"{p.where}: {p.message}" for p in failure.problems)
    assert "NO-SUCH" in error
    assert "PH-NOBODY" in error
    crashed = ScenarioFailure("error", "RuntimeError: solver exploded\nat R2\n"
                              "Traceback (most recent call last):\n  File ...")
    frame = outcomes_frame([ScenarioOutcome("crashed", crashed)])
    assert frame.loc[0, "error"] == "RuntimeError: solver exploded at R2"


def test_weight_sensitivity_tabulates_and_plots(pilot: Round) -> None:
    import matplotlib

    matplotlib.use("Agg")
    sens = weight_sensitivity(pilot, "hard_to_recruit", [120, 0, 30, 30], PARAMS,
                              executor=InlineExecutor())
    assert isinstance(sens, Sensitivity)
    assert list(sens.table["value"]) == [0, 30, 120]
    assert set(sens.results) == {0, 30, 120}
    assert not sens.failures
    assert (sens.table.status == "optimal").all()
    assert {"hard_to_recruit_fill", "first_choice_share", "objective"} <= set(sens.table)
    # More weight on hard-to-recruit never fills fewer of those seats at the optimum.
    fills = list(sens.table["hard_to_recruit_fill"])
    assert fills == sorted(fills)
    ax = sens.plot()
    assert ax.get_ylabel() == "share of hard-to-recruit seats filled"
    assert [t.get_text() for t in ax.texts] == [
        "hard_to_recruit=0", "hard_to_recruit=30", "hard_to_recruit=120"]


def test_weight_sensitivity_rejects_an_unknown_weight(pilot: Round) -> None:
    from matcher.errors import InvalidRoundError

    with pytest.raises(InvalidRoundError, match="unknown weight 'speed'"):
        weight_sensitivity(pilot, "speed", [1, 2], executor=InlineExecutor())


def test_the_sweep_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the project, not installed
        sys.path.insert(0, str(ROOT))
    from benchmarks.bench_sweep import main, make_scenarios

    pilot = load_round(ROOT / "data" / "samples" / "single-stream.json")
    names = [s.name for s in make_scenarios(pilot, 9)]
    assert len(set(names)) == 9
    for s in make_scenarios(pilot, 9):
        s.apply()  # every variant is valid
    assert main(["--round", str(ROOT / "data" / "samples" / "single-stream.json"), "--n", "3",
                 "--skip", "pool", "dask", "--time-limit", "10"]) == 0
    out = capsys.readouterr().out
    assert "sweep of 3 scenarios" in out
    assert "serial" in out
    assert "yes" in out
