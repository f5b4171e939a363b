"""The cost-based choice of a lossy plan for a query with a target.

Given the lossless optimized plan and the query's targets, the tuner

1. makes sure costs are measured for every operator at every resolution (profiling the
   query's own functions on a few frames when they are not);
2. makes sure the pipeline has a fresh accuracy profile (``clips``), building one within
   ``VQL_PROFILE_SHARE`` of the query's budget (its LATENCY, else the reference plan's
   estimated time) when it is missing, stale (older than ``VQL_PROFILE_MAX_AGE`` days) or was
   measured on other videos;
3. estimates every configuration's time, dollar cost and accuracy and picks one (``choose``);
4. for a LATENCY target, sets up the latency controller that re-picks the sampling rate per
   invocation while the query runs.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
from dataclasses import dataclass, field

from vql.bind.options import QueryOptions
from vql.catalog import AccuracyProfile, Catalog, Profile
from vql.exec.adapt import LiveController
from vql.exec.context import QueryStats
from vql.exec.controller import LatencyController, RateOption
from vql.exec.progress import ProgressHandler, ProgressReporter
from vql.exec.trace import Trace
from vql.functions.spec import FrameFunction
from vql.physical import knobs
from vql.physical.choice import (
    Option,
    Ranked,
    choose,
    clip_plan,
    combined_accuracy,
    minimal_profile_s,
    pass_rate,
)
from vql.physical.cost import cache_shares, decode_cost, estimate, resolution_name
from vql.physical.knobs import Config
from vql.plan.nodes import (
    ApplyUDF,
    Limit,
    PlanNode,
    Relational,
    VideoScan,
    chain,
    profiles_of,
    rebuild,
)
from vql.tune.clips import ClipProfiler, pipeline_key
from vql.tune.costs import Profiler
from vql.tune.observe import measure, observe

if t.TYPE_CHECKING:
    from vql.services import Services

PROFILE_FRAMES = 16       # frames per operator and resolution when a query measures costs
PROFILE_FRAMES_DEADLINE = 6  # ... under a LATENCY target (measured: 16 frames took 1.4 s of 2)
INVOCATIONS = 30          # a controlled query is cut into about this many invocations
MIN_INVOCATION_S = 1.0    # of video
FULLY_CACHED = 0.99       # a cache share above which the exact plan is taken without profiling
MAX_TRACES = 4            # exact runs an engine keeps for the next query of their pipeline


@dataclass
class Tuning:
    """What the tuner decided, for EXPLAIN, the cursor and the shell."""

    plan: Relational
    chosen: Option | None
    rejected: tuple[tuple[Option, str], ...]
    shape: str
    feasible: bool
    minimum_s: float
    notes: list[str] = field(default_factory=list)
    controller: LatencyController | None = None
    profiling_s: float = 0.0
    profile: tuple[str, str] | None = None   # (table, pipeline) of the accuracy profile used
    trace: Trace | None = None  # the exact run recorded while profiling: the answer replays it
    expected_change: float | None = None     # its change rate at the chosen sampling rate
    # The chosen plan's estimated score of each column a frame function feeds (the estimate
    # is the lowest); ``rows`` for a selection, whose rows are scored as a whole.
    column_accuracy: dict[str, float] = field(default_factory=dict)
    # A controlled plan's profiled change rates by sampling rate: what it expects depends on
    # the rates the controller picks
    change_rates: dict[float, float] = field(default_factory=dict)
    # Why the query misses its LATENCY target although a plan meets it (measuring took the
    # time); shown to the user as a warning
    late: str | None = None
    # A target on a live table: the controller that picks rate and resolution as frames come
    live: LiveController | None = None

    def check_drift(self, stats: QueryStats, catalog: Catalog) -> None:
        """After the query: forget the accuracy profile if the content drifted from it, so
        that the next query of this pipeline measures it again (Chameleon)."""
        observed = stats.change_rate()
        if self.controller is not None:
            self.expected_change = expected_change(self.controller, self.change_rates)
        if self.profile is None or not drifted(observed, stats.processed_pairs,
                                                self.expected_change):
            return
        profile = self.profile
        catalog.apart(lambda: catalog.forget_accuracy(*profile))
        self.notes.append(f"content drift: consecutive processed frames differed {observed:.0%} "
                          f"of the time against {self.expected_change:.0%} when profiled; the "
                          "accuracy profile was dropped and the next query measures it again")

    @property
    def lossy(self) -> bool:
        """Whether the plan may lose accuracy: a non-reference choice, or a latency controller."""
        return self.chosen is not None and not self.chosen.config.is_reference or \
            self.controller is not None or self.live is not None

    def estimated_accuracy(self) -> float | None:
        """The chosen plan's estimated accuracy; with a controller, of the rates picked; on a
        live table, of the rows so far (None before the stream's first profile)."""
        if self.live is not None:
            return self.live.estimated_accuracy()
        if self.controller is not None and self.controller.decisions:
            return self.controller.accuracy()
        return self.chosen.accuracy if self.chosen is not None else None

    def lines(self) -> list[str]:
        """EXPLAIN's lines: the choice, its accuracy by column, the rejected, controller, notes."""
        out = []
        if self.chosen is not None:
            out.append(f"chosen: {self.chosen.describe()}")
        if self.column_accuracy and self.chosen is not None and \
                not self.chosen.config.is_reference:
            out.append("estimated accuracy by column (the lowest counts): " + ", ".join(
                f"{name} {score:.3f}" for name, score in self.column_accuracy.items()))
        for option, reason in self.rejected:
            out.append(f"rejected: {option.describe()} — {reason}")
        if self.controller is not None:
            out.append(f"latency controller: {len(self.controller.options)} rates, invocations "
                       f"of {self.controller.invocation_s:g} s of video, budget "
                       f"{self.controller.budget_s:.2f} s")
        if self.live is not None:
            target = "none (keep up)" if self.live.budget_s is None else \
                f"{self.live.budget_s * 1000:g} ms per row"
            out.append(f"live controller: {len(self.live.options)} options ("
                       + "; ".join(o.describe() for o in self.live.options)
                       + f"), latency target {target}"
                       + ("" if self.live.accuracy_target is None else
                          f", accuracy target {self.live.accuracy_target:g}"))
        out.extend(f"note: {n}" for n in self.notes)
        return out


def table_cache_shares(services: Services, pipeline: PlanNode, table: str) -> dict[float, float]:
    """By decode scale, the share of ``table``'s frames whose values the result cache serves
    to ``pipeline`` (``cost.cache_shares``, for ``estimate``)."""
    contents = sorted(set(services.catalog.video_contents(table).values()))
    return cache_shares(pipeline, lambda call, scale: services.results.count(
        call.cache_key(), contents, scale), knobs.SCALES)


class Tuner:
    """Chooses the plan for one query with targets, measuring costs and accuracy as needed."""

    def __init__(self, services: Services, plan: Relational, targets: QueryOptions,
                 started: float, profile: bool = True,
                 progress: tuple[ProgressHandler, float] | None = None):
        """``profile``: build a missing accuracy profile (False for EXPLAIN: it would run
        the query). ``progress``: the connection's progress handler and its interval, told
        of the frames profiling runs."""
        self.services = services
        self.progress = progress
        self.profile = profile
        self.plan = plan
        self.targets = targets
        self.started = started
        self.late = False  # measuring used up the LATENCY target (see _late)
        scan = chain(plan.inputs[0])[0]
        assert isinstance(scan, VideoScan)
        self.scan = scan
        self.video_fps = scan.frames / scan.duration if scan.duration else 0.0
        self.shares: dict[float, float] = {}  # the result cache's share, by decode scale
        self.trace: Trace | None = None  # the exact run, when the profile was built from it

    def elapsed(self) -> float:
        """Seconds since the query started (``started``, a ``time.perf_counter`` value)."""
        return time.perf_counter() - self.started

    def tune(self) -> Tuning:
        """Measure what is missing, estimate every configuration, and choose the plan to run."""
        notes: list[str] = []
        pipeline = self.plan.inputs[0]
        self.shares = table_cache_shares(self.services, pipeline, self.scan.table)
        cached = self.shares.get(1.0, 0.0) >= FULLY_CACHED
        # Nothing to measure when the exact plan neither decodes nor computes.
        profiles = self.services.measurements.profiles(self.scan.table) if cached else \
            self._cost_profiles(notes)
        configs = knobs.candidates(pipeline, self.video_fps)
        reference_s = self._seconds(Config(), profiles, 1.0)
        profiler = ClipProfiler(self.services, self.plan)
        if cached:
            # The exact plan reads every value from the result cache: nothing is faster, and
            # its accuracy needs no profile.
            notes.append("the result cache holds the exact plan's values for "
                         f"{self.shares[1.0]:.0%} of the frames: it runs exactly")
            configs, accuracy = [Config()], []
        else:
            accuracy = self._accuracy_profiles(profiler, reference_s, configs, profiles, notes)
        monotone = not profiler.covers_extent(accuracy)  # a sample, not all the query reads
        seconds = {c: self._seconds(c, profiles, pass_rate(c, accuracy)) for c in configs}
        options = [Option(c, seconds[c], self._usd(seconds[c]),
                          1.0 if c.is_reference else
                          (combined_accuracy(c, accuracy, monotone) if accuracy else None))
                   for c in configs]
        budget = None
        if self.targets.latency_s is not None:
            budget = (self.targets.latency_s - self.elapsed()) * (1 - 0.1)
        ranked = choose(options, self.targets, budget)
        from vql.accuracy import result_shape

        tuning = Tuning(self.plan, ranked.chosen, ranked.rejected, result_shape(self.plan),
                        ranked.chosen is not None, ranked.fastest.seconds, notes)
        if accuracy:
            tuning.profile = (self.scan.table, pipeline_key(self.plan))
        if self.trace is not None:
            return self._answer_from_trace(tuning, options, ranked, monotone, accuracy)
        chosen = ranked.chosen or (ranked.fastest if self.targets.best_effort else None)
        if chosen is None and budget is not None:
            chosen = self._late(options, tuning)
        if chosen is None:
            return tuning
        tuning.column_accuracy = column_estimates(chosen.config, accuracy, monotone)
        if ranked.chosen is None:
            notes.append(f"no plan meets the target; BEST EFFORT runs the fastest "
                         f"(estimated {ranked.fastest.seconds:.2f} s)")
            tuning.chosen = chosen
        if self.targets.latency_s is not None and self.scan.duration > 0:
            tuning.controller = self._controller(chosen, options)
            tuning.change_rates = {p.value: p.change_rate for p in accuracy
                                   if p.knob == "fps" and p.change_rate is not None}
            start = Config(chosen.config.fps or self.video_fps, chosen.config.scale,
                           chosen.config.diff)
            tuning.plan = knobs.apply(self.plan, start, controlled=True,
                                      pass_rate=pass_rate(start, accuracy))
        else:
            tuning.plan = knobs.apply(self.plan, chosen.config,
                                      pass_rate=pass_rate(chosen.config, accuracy))
            tuning.expected_change = next(
                (p.change_rate for p in accuracy if p.knob == "fps" and chosen.config.fps
                 is not None and abs(p.value - chosen.config.fps) < 1e-9), None)
        return tuning

    def _late(self, options: list[Option], tuning: Tuning) -> Option | None:
        """When measuring (costs, accuracy) used up a LATENCY target that a plan meets on its
        own: that one-time work is done and the target is missed whatever runs now, so the
        fastest plan that meets the other targets runs, and the user is told why it is late
        (refusing would waste what was measured and answer nothing)."""
        assert self.targets.latency_s is not None
        chosen = choose(options, self.targets, self.targets.latency_s * (1 - 0.1)).chosen
        if chosen is None:
            return None
        self.late = True
        tuning.chosen, tuning.feasible = chosen, True
        tuning.late = (f"target WITH {self.targets.target_text()} is missed by this query: "
                       f"measuring took {self.elapsed():.2f} s of it (done once; ANALYZE "
                       f"{self.scan.table} measures costs ahead of time); the plan chosen for "
                       f"the whole target runs now (estimated {chosen.seconds:.2f} s)")
        tuning.notes.append(tuning.late)
        return chosen

    def _answer_from_trace(self, tuning: Tuning, options: list[Option], ranked: Ranked,
                           monotone: bool, accuracy: list[AccuracyProfile]) -> Tuning:
        """The profile was built from the exact run: the answer is that run's (exact), and
        the choice the profile supports is what the next query of the pipeline will make."""
        assert self.trace is not None
        exact = next(o for o in options if o.config.is_reference)
        tuning.chosen = dataclasses.replace(exact, seconds=self.trace.seconds)
        tuning.feasible = True
        tuning.trace = self.trace
        tuning.plan = self.plan
        tuning.rejected = ()
        if ranked.chosen is not None and not ranked.chosen.config.is_reference:
            tuning.notes.append(f"with this profile the next query of this pipeline runs "
                                f"{ranked.chosen.describe()}")
            tuning.column_accuracy = column_estimates(ranked.chosen.config, accuracy, monotone)
        elif ranked.chosen is None:
            tuning.notes.append("no replayed configuration meets the target: later queries "
                                "of this pipeline run exactly")
        return tuning

    # --- costs -------------------------------------------------------------------------------

    def _cost_profiles(self, notes: list[str]) -> list[Profile]:
        catalog, measurements = self.services.catalog, self.services.measurements
        table = self.scan.table
        profiles = measurements.profiles(table)
        calls = [n.call for n in chain(self.plan.inputs[0]) if isinstance(n, ApplyUDF)]
        missing = [s for s in knobs.SCALES
                   if decode_cost(profiles, "sequential", s) is None
                   or decode_cost(profiles, "seek", s) is None
                   or any(not profiles_of(profiles, c.function, c.constants,
                                          resolution=resolution_name(s)) for c in calls)]
        if not missing:
            return profiles
        functions = []
        for call in calls:
            function = self.services.registry.require(call.function)
            if isinstance(function, FrameFunction):
                functions.append((function, call.constants))
        started = time.perf_counter()
        # One run per configuration at the configured batch size only; fewer frames when the
        # measuring comes out of a deadline.
        frames = PROFILE_FRAMES if self.targets.latency_s is None else PROFILE_FRAMES_DEADLINE
        outcomes = Profiler(catalog, self.services.registry, self.services.settings).profile(
            table, frames, tuple(missing), functions, batch_sizes=(), repeats=1)
        measured = [o.profile for o in outcomes if o.profile is not None]
        measurements.apart(lambda: measurements.save_profiles(table, measured))
        notes.append(f"measured costs of {len(measured)} operator configurations on "
                     f"{frames} frames in {time.perf_counter() - started:.2f} s "
                     f"(ANALYZE {table} measures them ahead of time)")
        return measurements.profiles(table) or measured

    def _seconds(self, config: Config, profiles: list[Profile], passing: float) -> float:
        found = estimate(knobs.configure(self.plan.inputs[0], config, pass_rate=passing)
                         if not config.is_reference else self.plan.inputs[0], profiles,
                         self.shares)
        return found.seconds if found.seconds is not None else float("inf")

    def _usd(self, seconds: float) -> float:
        settings = self.services.settings
        return seconds * settings.effective_threads() * settings.price_cpu_core_s

    # --- accuracy ------------------------------------------------------------------------------

    def _accuracy_profiles(self, profiler: ClipProfiler, reference_s: float,
                           configs: list[Config], costs: list[Profile],
                           notes: list[str]) -> list[AccuracyProfile]:
        measurements = self.services.measurements
        table = self.scan.table
        key = pipeline_key(self.plan)
        stored = measurements.accuracy_profiles(table, key)
        content = self.services.catalog.content(table)
        reason = ""
        if stored:
            age = measurements.profile_age_days(stored[0].measured_at)
            if stored[0].content != content:
                reason = "the table's videos changed since it was measured"
            elif age > self.services.settings.profile_max_age_days:
                reason = f"it is {age:.1f} days old"
            else:
                notes.append(f"accuracy profile reused ({samples_of(stored)}, "
                             f"{age * 24:.1f} h old)")
                return stored
        if not self.profile:
            notes.append(f"accuracy not profiled{': ' + reason if reason else ''}: running the "
                         "query profiles it (WITH ACCURACY: from its exact run)")
            return stored if stored and content == stored[0].content else []
        if self._observable(reference_s):
            return self._from_exact_run(profiler, configs, costs, reference_s, key, reason,
                                        notes)
        share = self.services.settings.profile_share
        duration = profiler.duration  # of the part of the table the query reads
        # Clips run the whole pipeline over their frames, whatever LIMIT the query has.
        unlimited = rebuild([n for n in chain(self.plan.inputs[0]) if not isinstance(n, Limit)])
        found = estimate(unlimited, costs).seconds
        per_video_s = (found / self.scan.duration if found and self.scan.duration
                       else reference_s / duration if duration else 0.0)
        if self.targets.latency_s is not None:
            budget = self.targets.latency_s * share
            basis = f"{share:g} of the LATENCY target"
        else:  # no deadline: a one-time cost, reused by later queries of this pipeline
            budget = max(reference_s * share, minimal_profile_s(per_video_s, duration))
            basis = (f"the larger of {share:g} of the exact plan's estimated time and the "
                     "smallest useful profile")
        clips = clip_plan(budget, per_video_s, duration)
        if clips is None:
            notes.append(f"accuracy not profiled{': ' + reason if reason else ''}: the "
                         f"profiling budget ({budget:.2f} s, {basis}) buys no useful clips; "
                         "a query of this pipeline WITH ACCURACY (no LATENCY) builds the profile")
            return stored if stored and content == stored[0].content else []
        started = time.perf_counter()
        def seconds_of(config: Config, measured: list[AccuracyProfile]) -> float:
            return self._seconds(config, costs, pass_rate(config, measured))

        measured = profiler.measure(configs, clips, seconds_of, deadline=started + budget)
        measured = [dataclasses.replace(p, pipeline=key) for p in measured]
        notes.append(f"accuracy profiled{' again: ' + reason if reason else ''} on "
                     f"{samples_of(measured)} in {time.perf_counter() - started:.2f} s "
                     f"(budget {budget:.2f} s: {basis})")
        return self._keep_accuracy(key, measured)

    def _from_exact_run(self, profiler: ClipProfiler, configs: list[Config],
                        costs: list[Profile], reference_s: float, key: str, reason: str,
                        notes: list[str]) -> list[AccuracyProfile]:
        """A profile built from the exact run (``vql.tune.observe``): replayed for
        stateless functions; for stateful ones, recorded by this query and run for real
        against the record by the next one, within the exact plan's time."""
        catalog, table = self.services.catalog, self.scan.table
        again = f" again: {reason}" if reason else ""
        recorded = (table.lower(), key, catalog.content(table))
        started = time.perf_counter()
        trace = self.services.traces.pop(recorded, None)
        if trace is not None:
            # Recorded by an earlier query: run the rates for real against it, and answer
            # from it (exact, and it costs almost nothing), all within the exact plan's time.
            self.trace = trace
            budget = max(reference_s - self.elapsed(), 0.0)
            measured = measure(self.services, profiler, trace, configs,
                               lambda c: self._seconds(c, costs, 1.0), started + budget,
                               self.targets.accuracy)
            note = (f"accuracy profiled{again}: {len(measured) - 1} sampling rates run for real "
                    f"in {time.perf_counter() - started:.2f} s (budget {budget:.2f} s: the exact "
                    "plan's estimated time), scored against the exact run an earlier query "
                    "recorded; this answer is that run's")
        else:
            trace, measured = observe(self.services, profiler, configs, self._progress(profiler))
            self.trace = trace
            if not measured:  # a stateful function: its rates cannot be replayed
                while len(self.services.traces) >= MAX_TRACES:
                    self.services.traces.pop(next(iter(self.services.traces)))
                self.services.traces[recorded] = trace
                notes.append(f"the exact run over {trace.frames} frames recorded in "
                             f"{trace.seconds:.2f} s: this answer is exact; a stateful function "
                             "sees other values at other rates, so they cannot be replayed "
                             "from it: the next query of this pipeline runs them for real "
                             "against this record, within the exact plan's time")
                return []
            note = (f"accuracy profiled{again} from the exact run over {trace.frames} frames "
                    f"({trace.seconds:.2f} s), {len(measured) - 1} configurations replayed "
                    f"from it in {time.perf_counter() - started - trace.seconds:.2f} s; this "
                    "answer is the exact run's")
        measured = [dataclasses.replace(p, pipeline=key) for p in measured]
        notes.append(note)
        return self._keep_accuracy(key, measured)

    def _keep_accuracy(self, key: str, measured: list[AccuracyProfile]) -> list[AccuracyProfile]:
        """Store a measured accuracy profile (committed apart from the user's transaction) and
        return it as stored; as measured when it could not be stored (a read-only database)."""
        measurements, table = self.services.measurements, self.scan.table
        if measurements.apart(lambda: measurements.save_accuracy(table, key, measured)):
            return measurements.accuracy_profiles(table, key)
        return measured

    def _observable(self, reference_s: float) -> bool:
        """Whether the profile is built from the exact run: no deadline (a LATENCY target
        profiles on clips within its share of the budget), and a COST target the exact plan
        fits."""
        if self.targets.latency_s is not None:
            return False
        return self.targets.cost_usd is None or self._usd(reference_s) <= self.targets.cost_usd

    def _progress(self, profiler: ClipProfiler) -> ProgressReporter | None:
        if self.progress is None:
            return None
        handler, interval = self.progress
        return ProgressReporter(handler, interval, sum(v.frames for v in profiler.videos))

    # --- the latency controller ------------------------------------------------------------------

    def _controller(self, chosen: Option, options: list[Option]) -> LatencyController:
        duration = self.scan.duration
        rates = [o for o in options if o.config.scale == chosen.config.scale
                 and o.config.diff == chosen.config.diff]
        rate_options = [RateOption(o.config.fps or self.video_fps, o.seconds / duration,
                                   o.accuracy) for o in rates]
        budget = max(self.targets.latency_s or 0.0, 0.0)
        if not self.late:  # late: the plan has the whole target from now (see _late)
            budget -= self.elapsed()
        invocation = max(MIN_INVOCATION_S, duration / INVOCATIONS)
        return LatencyController(rate_options, duration, budget, invocation)


def column_estimates(config: Config, profiles: list[AccuracyProfile],
                     monotone: bool = True) -> dict[str, float]:
    """A configuration's estimated score of each column the profiles scored."""
    columns = dict.fromkeys(name for p in profiles for name, _ in p.scores)
    out = {}
    for column in columns:
        found = combined_accuracy(config, [dataclasses.replace(p, accuracy=p.score_of(column))
                                           for p in profiles], monotone)
        if found is not None:
            out[column] = found
    return out


def expected_change(controller: LatencyController, rates: dict[float, float]) -> float | None:
    """How often consecutive processed frames should differ under the rates the controller
    used, by the profile: each rate's change rate weighted by the pairs it processed (a rate
    not profiled takes the nearest profiled one's)."""
    if not rates or not controller.decisions:
        return None
    weighted = pairs = 0.0
    for decision in controller.decisions:
        nearest = min(rates, key=lambda fps: abs(fps - decision.fps))
        count = decision.video_seconds * decision.fps
        weighted += rates[nearest] * count
        pairs += count
    return weighted / pairs if pairs else None


def samples_of(profiles: list[AccuracyProfile]) -> str:
    """The distinct samples ``profiles`` were measured on, joined by 'and'."""
    return " and ".join(dict.fromkeys(p.sample for p in profiles))


# Content has drifted when a query sees consecutive processed frames disagree this much more
# often than the profile did at the same rate (and it saw enough pairs to tell).
DRIFT_FACTOR, DRIFT_SLACK, DRIFT_MIN_PAIRS = 2.0, 0.05, 20


def drifted(observed: float | None, pairs: int, profiled: float | None) -> bool:
    """Whether consecutive processed frames differed so much more often than profiled: drift."""
    if observed is None or profiled is None or pairs < DRIFT_MIN_PAIRS:
        return False
    return observed > profiled * DRIFT_FACTOR + DRIFT_SLACK
