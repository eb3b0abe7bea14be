"""One demo run: the loop over demo minutes that plays EventBridge, CloudWatch alarms and the fleet."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qas import emulator
from qas.demo.chart import write_timeline
from qas.demo.config import DemoConfig, Phase
from qas.demo.control import Datapoints, evaluate, read_datapoints, utc
from qas.demo.fleet import (
    CAPACITY_APIS,
    Fleet,
    FleetEvents,
    MemberState,
    WorkerSettings,
)
from qas.demo.lambdas import DeployedFunction, Invocation, Rule, WarmFunction, due, read_rules
from qas.demo.procs import ProcessRegistry
from qas.demo.report import (
    ActionRecord,
    Completions,
    MinuteRow,
    latency_summary,
    percentile,
    rows_as_dicts,
    write_summary,
)
from qas.demo.stack import DeployedStack, initial_target
from qas.demo.ui import Console, brief_answer, header_lines, pace_of, why
from qas.model.control_plane import AlarmName, AlarmState, ControlPlane
from qas.model.platforms import model_platform
from queue_autoscaler.adapters.errors import AdapterError
from queue_autoscaler.adapters.fleet import TargetPolicy
from queue_autoscaler.platforms import platform_of

# Polling the fleet between minutes: often enough that a worker starts when its boot ends.
POLL_S = 0.1
# While protected instances keep the fleet above desired, how often the demo re-applies it.
RECONCILE_S = 0.5


@dataclass
class _State:
    minute: int = 0
    sent: int = 0
    phase: str = "idle"
    rows: list[MinuteRow] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    failures: list[Invocation] = field(default_factory=list)
    target_changes: list[dict[str, float]] = field(default_factory=list)
    capacity_minutes: float = 0.0
    peak: int = 0


_NONE = Datapoints(None, None, None, None, None)


class DemoRun:
    def __init__(
        self, cfg: DemoConfig, stack: DeployedStack, registry: ProcessRegistry, console: Console
    ) -> None:
        self.cfg = cfg
        self.stack = stack
        self.registry = registry
        self.console = console
        self.report_dir = Path(cfg.report_dir)
        self.log_dir = self.report_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for pattern in ("worker-*.log", "lambda-*.log", "completions-*.jsonl"):
            for old in self.log_dir.glob(pattern):  # only what a previous run wrote
                old.unlink()
        self.sqs = self._client("sqs")
        self.events = self._client("events")
        self.cloudwatch = self._client("cloudwatch")
        out = stack.outputs
        self.queue_url = out["QueueUrl"]
        self.dlq_url = out["DeadLetterQueueUrl"]
        self.fleet_name = out["FleetName"]
        self.state = _State()
        self.model = ControlPlane(stack.control)
        self._policy_client = self._client(platform_of(cfg.platform).policy_service)
        self.completions = Completions()
        self.functions: dict[str, WarmFunction] = {}
        self.fleet = self._fleet()
        self._started = 0.0
        self._last_published = 0.0
        self._window_start = 0.0
        self._missed = random.Random(f"{cfg.seed}:missed")  # its own stream: the load stays the same
        self._unseen: deque[Datapoints] = deque()  # published, not yet evaluated (--alarm-delay-minutes)

    def _client(self, name: str) -> Any:
        """A client of the emulator, with fake credentials whatever the user's environment holds."""
        return emulator.client(self.stack.endpoint_url, name)

    def _target_policy(self) -> TargetPolicy:
        """A new reader of the policy (the adapter keeps its first read), on one long-lived client."""
        out = self.stack.outputs
        return platform_of(self.cfg.platform).target_policy(
            out.get("ClusterName", ""), self.fleet_name, out["ScalingPolicyName"], client=self._policy_client
        )

    def _fleet(self) -> Fleet:
        api = CAPACITY_APIS[self.cfg.platform](self._client, self.stack.outputs, self.fleet_name)
        visibility = int(
            self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"
            ]["VisibilityTimeout"]
        )
        settings = WorkerSettings(
            queue_url=self.queue_url,
            fleet_name=self.fleet_name,
            namespace=self.stack.namespace,
            concurrency=self.cfg.worker_concurrency,
            visibility_timeout_s=visibility,
            wait_time_s=self.cfg.worker_wait_seconds,
            metrics_interval_s=self.cfg.seconds_per_minute,
            shutdown_grace_s=float(self.stack.shutdown_grace_s),
        )
        return Fleet(
            self.cfg.platform,
            api,
            settings=settings,
            endpoint_url=self.stack.endpoint_url,
            registry=self.registry,
            boot_s=self.cfg.real_seconds(self.cfg.boot_minutes),
            log_dir=self.log_dir,
        )

    def print_header(self) -> None:
        self.console.header(header_lines(self.cfg, self.stack, self.queue_url, self.model.target))

    # --- time -------------------------------------------------------------------------------------

    def _demo_minutes_now(self) -> float:
        return (time.time() - self._started) / self.cfg.seconds_per_minute

    def _minute_start(self, minute: int) -> float:
        return self._started + minute * self.cfg.seconds_per_minute

    def _wait_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` while the fleet boots and stops workers on its own schedule."""
        last = reconciled = time.time()
        while True:
            self._show_fleet(self.fleet.poll())
            now = time.time()
            if self._excess() and now - reconciled >= RECONCILE_S:
                # AWS terminates a kept instance as soon as its protection is removed, not once a minute.
                self._apply(self.fleet.desired)
                reconciled = now
            self.state.capacity_minutes += self.fleet.size * (now - last) / self.cfg.seconds_per_minute
            self.state.peak = max(self.state.peak, self.fleet.size)
            last = now
            if now >= deadline:
                return
            time.sleep(min(POLL_S, deadline - now))

    # --- the parts of AWS moto does not run --------------------------------------------------------

    def _start_functions(self) -> list[Rule]:
        rules = read_rules(self.events)
        lam = self._client("lambda")
        for rule in rules:
            if rule.function_name not in self.functions:
                function = DeployedFunction.describe(lam, rule.function_name)
                self.functions[rule.function_name] = WarmFunction(
                    function, self.stack.endpoint_url, self.registry, self.log_dir, self.cfg.seed
                )
        return rules

    def _apply_phase(self, minute: int) -> None:
        """The load profile drives the producer's rule: its Input per phase, disabled in silence."""
        phase = self.cfg.profile.phase_at(minute) if minute < self.cfg.timeline_minutes else None
        name = phase.name if phase is not None else "drain"
        if name == self.state.phase:
            return
        self.state.phase = name
        rule = self.stack.outputs["ProducerRuleName"]
        if phase is not None and phase.count > 0:
            self._set_producer_input(rule, phase)
            was_enabled = self.events.describe_rule(Name=rule).get("State") == "ENABLED"
            if not was_enabled:
                self._enable_producer()
            what = "Input changed" if was_enabled else "rule enabled (EnableProducerCommand)"
            self.console.event(minute, f"load: {phase.name}: producer {what}, {phase.count} messages/min")
        elif self.events.describe_rule(Name=rule).get("State") == "ENABLED":
            self.events.disable_rule(Name=rule)
            self.console.event(minute, f"load: {name}: producer rule disabled")

    def _set_producer_input(self, rule: str, phase: Phase) -> None:
        import json  # noqa: PLC0415

        for target in self.events.list_targets_by_rule(Rule=rule)["Targets"]:
            self.events.put_targets(
                Rule=rule,
                Targets=[
                    {"Id": target["Id"], "Arn": target["Arn"], "Input": json.dumps(phase.producer_input())}
                ],
            )

    def _enable_producer(self) -> None:
        """Run the stack's own EnableProducerCommand (`aws events enable-rule --name X ...`) via boto3."""
        words = self.stack.outputs["EnableProducerCommand"].split()
        if words[:3] != ["aws", "events", "enable-rule"] or "--name" not in words:
            raise ValueError(f"unexpected EnableProducerCommand: {' '.join(words)}")
        self.events.enable_rule(Name=words[words.index("--name") + 1])

    def _fire(self, minute: int) -> None:
        """Invoke every function whose rule is due: producer, then publisher, then the rest."""
        rules = self._start_functions()
        publisher = self.stack.outputs["MetricPublisherFunction"]
        producer = self.stack.outputs["ProducerFunction"]
        order = {producer: 0, publisher: 1}
        self._window_start = max(float(math.floor(time.time())), self._last_published + 1.0)
        tuner = self.stack.outputs["TargetTunerFunction"]
        for rule in sorted(rules, key=lambda r: order.get(r.function_name, 2)):
            if rule.function_name == tuner and self.cfg.tuner_every_minutes is not None:
                rule = dataclasses.replace(rule, every_minutes=self.cfg.tuner_every_minutes)  # noqa: PLW2901
            if not due(rule, minute):
                continue
            if rule.function_name == publisher and self._missed.random() < self.cfg.missed_sample_rate:
                self.console.event(minute, "metric publisher did not run (--missed-sample-rate)")
                continue
            if rule.function_name == publisher:
                self._window_start = self._publisher_window()
            result = self.functions[rule.function_name].invoke(rule.event, minute)
            if rule.function_name == publisher:
                self._last_published = time.time()
            if not result.ok:
                self.state.failures.append(result)
                self.console.event(minute, f"Lambda {rule.function_name} FAILED: {result.error}")
            elif rule.function_name == producer and isinstance(result.result, dict):
                self.state.sent += int(result.result.get("sent", 0))
            elif rule.function_name not in (producer, publisher):
                self.console.event(minute, f"Lambda {rule.function_name}: {brief_answer(result.result)}")

    def _publisher_window(self) -> float:
        """Start (whole second) of the CloudWatch window holding this minute's publisher datapoint.

        moto reads windows in whole seconds: keep the previous datapoint a full second earlier, so
        a demo running late can never put two minutes' datapoints in one window.
        """
        time.sleep(max(0.0, self._last_published + 1.0 - time.time()))
        return float(math.floor(time.time()))

    def _sync_target(self, minute: int) -> None:
        """The tuner changes the policy in the emulator; the model follows, as AWS re-creates its alarms.

        Runs after this minute's invocations, which the demo waits for, so a change is followed the
        minute it is made. The reader is a new one each time: the adapter keeps one invocation's
        DescribePolicies (the tuner reads once and sends that back), so a long-lived reader would
        keep the target it read first and miss every change.
        """
        try:
            target = self._target_policy().current_target()
        except (BotoCoreError, ClientError, AdapterError) as exc:  # not StopRequestedError: Ctrl-C must stop
            self.console.event(minute, f"cannot read the scaling policy: {exc}")
            return
        if target != self.model.target:
            self.console.event(minute, f"target tuner: target {self.model.target:g} -> {target:g}")
            self.state.target_changes.append(
                {
                    "minute": minute,
                    "real_s": minute * self.cfg.seconds_per_minute,
                    "from": self.model.target,
                    "to": target,
                }
            )
            self.model.set_target(target)

    def _control(self, minute: int) -> None:
        window_start = utc(self._window_start)
        window_end = utc(math.floor(time.time()) + 1)
        points = read_datapoints(
            self.cloudwatch, self.stack.namespace, self.fleet_name, window_start, window_end
        )
        running = self.fleet.count(MemberState.RUNNING)
        self._unseen.append(points)
        # With an alarm delay the model evaluates an older minute's datapoints; none yet: missing.
        due_points = self._unseen.popleft() if len(self._unseen) > self.cfg.alarm_delay_minutes else _NONE
        result = evaluate(self.model, minute, due_points, self.fleet.desired, running)
        winner = next((a.source for a in result.actions if a.applied), None)
        for action in result.actions:
            self.console.action(minute, action, result.desired, winner)
            if not action.applied:
                continue
            if due_points.visible is not None and due_points.in_flight is not None:
                because = why(
                    action,
                    self.model.config,
                    visible=due_points.visible,
                    in_flight=due_points.in_flight,
                    target=self.model.target,
                    pace=pace_of(self.state.rows),
                )
                self.console.why(minute, because)
            self.state.actions.append(
                ActionRecord(
                    minute,
                    round(minute * self.cfg.seconds_per_minute, 1),
                    str(action.source),
                    action.previous,
                    action.capacity,
                    action.reason,
                )
            )
        if result.desired != self.fleet.desired or self._excess():
            # Re-applied while protected instances keep the fleet above desired: AWS terminates them
            # as soon as their protection is removed.
            self._apply(result.desired, minute)
        row = self._row(minute, points, result.alarms)
        self.console.progress(row)
        self.state.rows.append(row)

    def _row(self, minute: int, points: Datapoints, alarms: Mapping[AlarmName, AlarmState]) -> MinuteRow:
        """This minute's published datapoints, the fleet as it is now and the alarms in ALARM."""
        new = self.completions.read(self.fleet.completion_files)
        p95 = percentile(self.completions.latencies(new), 95)
        return MinuteRow(
            minute=minute,
            real_s=round(minute * self.cfg.seconds_per_minute, 1),
            phase=self.state.phase,
            visible=points.visible or 0,
            in_flight=points.in_flight or 0,
            desired=self.fleet.desired,
            running=self.fleet.count(MemberState.RUNNING),
            instances=self.fleet.size,
            target=self.model.target,
            backlog_per_instance=points.backlog_per_instance,
            processed=len(self.completions.done),
            dlq=self._visible(self.dlq_url),
            latency_p95_s=None if p95 is None else round(p95, 2),
            scale_out_pressure=points.scale_out_pressure,
            scale_in_pressure=points.scale_in_pressure,
            booting=self.fleet.count(MemberState.BOOTING),
            draining=self.fleet.count(MemberState.STOPPING),
            published_running=points.running if points.complete else None,
            published_desired=points.desired if points.complete else None,
            alarms=tuple(str(name) for name, state in alarms.items() if state is AlarmState.ALARM),
            sent=self.state.sent,
        )

    def _excess(self) -> bool:
        """More instances than desired: protected ones were kept at the last scale-in."""
        return self.fleet.size - self.fleet.count(MemberState.STOPPING) > self.fleet.desired

    def _apply(self, desired: int, minute: float | None = None) -> None:
        """Set the desired capacity; say what changed, and how many busy instances it kept."""
        at = self._demo_minutes_now() if minute is None else minute
        events = self.fleet.set_desired(desired)
        self._show_fleet(events, at)
        self.console.kept(at, events.blocked, self._noun)

    def _show_fleet(self, events: FleetEvents, minute: float | None = None) -> None:
        at = self._demo_minutes_now() if minute is None else minute
        self.console.fleet(at, events, self._noun, self.cfg.boot_minutes)

    @property
    def _noun(self) -> str:
        return model_platform(self.cfg.platform).noun

    def _visible(self, url: str) -> int:
        counts = self._queue_counts(url)
        return counts[0]

    def _queue_counts(self, url: str) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    # --- the run ----------------------------------------------------------------------------------

    def _load_over(self, minute: int) -> bool:
        """No more messages to come: the timeline is over, or only silence is left in it."""
        return all(
            (phase := self.cfg.profile.phase_at(m)) is None or phase.count == 0
            for m in range(minute, self.cfg.timeline_minutes)
        )

    def _settled(self) -> bool:
        visible, in_flight = self._queue_counts(self.queue_url)
        return self.fleet.desired == 0 and self.fleet.size == 0 and visible + in_flight == 0

    def step(self, minute: int) -> None:
        """Demo minute ``minute``: the load, the schedules, the tuner's policy, then the alarms."""
        self.state.minute = minute
        self._apply_phase(minute)
        self._fire(minute)
        self._sync_target(minute)
        self._control(minute)

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self._started = time.time()
        minute = 0
        limit = cfg.timeline_minutes + cfg.drain_minutes
        try:
            while True:
                self._wait_until(self._minute_start(minute))
                self.step(minute)
                minute += 1
                if self._load_over(minute) and self._settled():
                    break
                if minute >= limit:
                    self.console.event(minute, f"drain limit of {cfg.drain_minutes} demo minutes reached")
                    break
        finally:
            self.close()
        return self.summary(minute, time.time() - self._started)

    def close(self) -> None:
        """Stop every worker and every warm function this run started."""
        self.fleet.stop_all(grace_s=self.stack.shutdown_grace_s + 5.0)
        for function in self.functions.values():
            function.close()

    def summary(self, minutes: int, wall_s: float) -> dict[str, Any]:
        self.completions.read(self.fleet.completion_files)
        visible, in_flight = self._queue_counts(self.queue_url)
        dlq = self._visible(self.dlq_url)
        processed = len(self.completions.done)
        summary_path = self.report_dir / "summary.json"
        timeline_path = self.report_dir / "timeline.png"
        summary: dict[str, Any] = {
            "platform": str(self.cfg.platform),
            "profile": self.cfg.profile.name,
            "seconds_per_minute": self.cfg.seconds_per_minute,
            "demo_minutes": minutes,
            "wall_seconds": round(wall_s, 1),
            "slo_seconds": self.cfg.slo_seconds,
            "boot_minutes": self.cfg.boot_minutes,
            "sent": self.state.sent,
            "processed": processed,
            "dlq": dlq,
            "still_queued": visible + in_flight,
            "lost": self.state.sent - processed - dlq - (visible + in_flight),
            "latency": latency_summary(self.completions.latencies(), self.cfg.slo_seconds),
            "capacity_minutes": round(self.state.capacity_minutes, 2),
            "peak_capacity": self.state.peak,
            "final_desired": self.fleet.desired,
            "final_running": self.fleet.count(MemberState.RUNNING),
            "fleet_back_to_zero": self.fleet.desired == 0 and self.fleet.size == 0,
            "scaled_out_to": max((a.capacity for a in self.state.actions), default=0),
            "scaling_actions": [vars(a) for a in self.state.actions],
            "target_changes": self.state.target_changes,
            "lambda_failures": [vars(f) for f in self.state.failures],
            "timeline": rows_as_dicts(self.state.rows),
            "files": {"summary": str(summary_path), "timeline": str(timeline_path)},
            # What produced the run, so that docs/demo.md's sample can be checked against the code.
            "settings": self.cfg.settings(),
            "initial_target": initial_target(self.cfg),
            "control": dataclasses.asdict(self.stack.control),
            "transcript": list(self.console.transcript),
        }
        write_summary(summary_path, summary)
        write_timeline(
            timeline_path,
            self.state.rows,
            self.state.actions,
            self.cfg.slo_seconds,
            self.cfg.seconds_per_minute,
        )
        return summary
