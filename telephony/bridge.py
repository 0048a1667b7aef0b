"""The bridge application: inbound IVR, operator queue, relays, conferences, outbound calls.

``start_bridge(config, ports)`` is what ``run.py`` calls; it returns a :class:`Bridge` whose
``stop()`` hangs up and releases the SIP port.

Threads: one SIP receive thread, one SIP timer thread, one RTP thread (all calls), one queue
dispatcher, one outbound-job poller, and one short-lived thread per call running its script.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from pathlib import Path

from .config import SipConfig
from .media import Mixer, MediaEngine, load_wav, tone
from .ports import SATISFACTION_QUESTIONS, OutboundJob, OutboundResult, Ports
from .privacy import mask_number, mask_text
from .sip import InboundCall, Leg, OutboundCall, SipUA

log = logging.getLogger(__name__)


class Prompts:
    """WAV prompts by name, loaded once (a missing file becomes a short tone, never a crash)."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> bytes:
        with self._lock:
            if name not in self._cache:
                path = Path(name) if name.endswith(".wav") else self.dir / f"{name}.wav"
                try:
                    self._cache[name] = load_wav(path)
                except (OSError, EOFError, Exception):  # noqa: BLE001 - any bad file
                    log.warning("prompt %s missing: using a tone", name)
                    self._cache[name] = tone(440, 0.3)
            return self._cache[name]

    def digits(self, text: str) -> bytes:
        return b"".join(self[f"digit_{c}"] for c in text if c.isdigit())


class CallerGone(Exception):
    """The leg ended while a script was waiting on it."""


@dataclasses.dataclass
class QueueEntry:
    call: InboundCall
    call_id: int
    enqueued: float
    skipped: set[int] = dataclasses.field(default_factory=set)
    offering: bool = False
    connected: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: bool = False
    all_skipped_at: float = 0.0


@dataclasses.dataclass
class ActiveCall:
    """A caller connected to people: the caller leg, the operator leg, experts, one mixer."""

    call_id: int
    caller: Leg
    operator_id: int | None
    mixer: Mixer
    legs: list[Leg]


class Bridge:
    def __init__(self, cfg: SipConfig, ports: Ports):
        self.cfg = cfg
        self.ports = ports
        self.prompts = Prompts(cfg.prompt_dir)
        self.media = MediaEngine(cfg.media_host, cfg.rtp_port_min, cfg.rtp_port_max)
        self.ua = SipUA(cfg, self.media, self._on_invite)
        self._queue: list[QueueEntry] = []
        self._qlock = threading.Condition()
        self._running = False
        self._threads: list[threading.Thread] = []
        self.active: dict[int, ActiveCall] = {}  # call record id -> connected call
        self._jobs_running = 0
        self._jobs_lock = threading.Lock()
        self.interrupted_on_start = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "Bridge":
        self.interrupted_on_start = self.ports.calls.close_interrupted(self.cfg.bridge_id)
        if self.interrupted_on_start:
            log.warning("closed %d calls left open by a previous run as interrupted",
                        self.interrupted_on_start)
        self._running = True
        self.media.start()
        self.ua.start()
        for name, fn in (("sip-queue", self._dispatch_loop), ("sip-jobs", self._jobs_loop)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("SIP bridge %s listening on %s:%s (%s mode, flow=%s)", self.cfg.bridge_id,
                 self.cfg.listen_host, self.ua.port, self.cfg.mode, self.cfg.flow)
        return self

    def stop(self) -> None:
        self._running = False
        with self._qlock:
            self._qlock.notify_all()
        self.ua.stop()
        self.media.stop()
        for t in self._threads:
            t.join(2)

    @property
    def port(self) -> int:
        return self.ua.port

    # -- inbound ------------------------------------------------------------------------------
    def _on_invite(self, call: InboundCall) -> None:
        # Runs in the SIP receive thread: hand over at once, so a slow database never delays
        # CANCELs, BYEs or the OPTIONS probes of the other calls (100 Trying is already sent).
        threading.Thread(target=self._inbound_entry, args=(call,), name="call-new",
                         daemon=True).start()

    def _inbound_entry(self, call: InboundCall) -> None:
        calls = self.ports.calls
        try:
            call_id = calls.offered(call.caller, call.dialled, self.cfg.bridge_id, call.call_id)
        except Exception:
            log.exception("could not log an offered call: refusing it")
            call.reject(503)
            return
        call.record_id = call_id  # type: ignore[attr-defined]
        threading.current_thread().name = f"call-{call_id}"
        if not call.offer_ok:
            call.reject(488)
            calls.ended(call_id, "refused")
            log.info("call %s refused: no common codec", call_id)
            return
        if self.ua.active_calls > self.cfg.max_calls:
            call.reject(503)
            calls.ended(call_id, "refused")
            log.warning("call %s refused: %d calls active", call_id, self.ua.active_calls)
            return
        self._inbound_script(call, call_id)

    def _inbound_script(self, call: InboundCall, call_id: int) -> None:
        outcome = "failed"
        ticket_id = None
        call.recording_path = None  # type: ignore[attr-defined]
        try:
            call.ring()
            if call.ended.wait(self.cfg.ring_seconds):
                outcome = "abandoned"  # CANCEL while ringing: 487 already sent by the UA
                return
            if not call.answer():
                outcome = "abandoned"
                return
            self._play(call, "greeting")
            if self.cfg.flow == "menu":
                outcome, ticket_id = self._menu(call, call_id)
            else:
                outcome = self._queue_and_connect(call, call_id)
        except CallerGone:
            outcome = getattr(call, "pending_outcome", None) or "abandoned"
        except Exception:
            log.exception("call %s script failed", call_id)
            outcome = "failed"
        finally:
            if call.state != "ended":
                call.hangup()
            if call.end_reason == "rtp_timeout" and outcome == "abandoned":
                outcome = "failed"  # the media died (or never came): not a citizen who hung up
            try:
                ticket_id = ticket_id or getattr(call, "voicemail_ticket", None)
                self.ports.calls.ended(call_id, outcome, ticket_id, call.recording_path)
            except Exception:
                log.exception("could not write the end of call %s", call_id)
            log.info("call %s from %s ended: %s", call_id, mask_number(call.caller), outcome)

    def _play(self, leg: Leg, *names: str, digits: str = "") -> None:
        """Play prompts and wait for the end (raises CallerGone if the leg hangs up)."""
        pcm = b"".join(self.prompts[n] for n in names) + (self.prompts.digits(digits) if digits else b"")
        done = leg.media.play(pcm)
        while not done.wait(0.05):
            if leg.ended.is_set():
                raise CallerGone()
        if leg.ended.is_set():
            raise CallerGone()

    def _collect(self, leg: Leg, max_digits: int, first_timeout: float, inter_timeout: float,
                 terminator: str | None = "#", stop_prompt_on_digit: bool = True) -> str:
        digits = ""
        deadline = time.monotonic() + first_timeout
        while len(digits) < max_digits:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if leg.ended.is_set():
                raise CallerGone()
            try:
                d = leg.dtmf.get(timeout=min(0.1, remaining))
            except Exception:
                continue
            if stop_prompt_on_digit:
                leg.media.stop_playback()
            if terminator and d == terminator:
                break
            digits += d
            deadline = time.monotonic() + inter_timeout
        return digits

    def _menu(self, call: InboundCall, call_id: int) -> tuple[str, int | None]:
        for _attempt in range(3):
            call.media.flush_dtmf()
            call.media.play(self.prompts["menu"])
            choice = self._collect(call, 1, self.cfg.menu_timeout_seconds + 10.0, 0, terminator=None)
            if choice in ("", "1", "0"):
                return self._queue_and_connect(call, call_id), None
            if choice == "2":
                call.pending_outcome = "self_service"  # type: ignore[attr-defined]
                self._ticket_status(call)
                continue
            if choice == "3":
                return self._voicemail(call, call_id)
            self._play(call, "invalid")
        return self._queue_and_connect(call, call_id), None

    def _ticket_status(self, call: InboundCall) -> None:
        call.media.flush_dtmf()
        call.media.play(self.prompts["ticket_prompt"])
        number = self._collect(call, 32, self.cfg.digit_timeout_seconds + 4.0,
                               self.cfg.digit_timeout_seconds)
        status = self.ports.tickets.status_by_number(number) if number else None
        call.last_ticket_lookup = (number, status)  # type: ignore[attr-defined]
        if status is None:
            self._play(call, "ticket_not_found")
            return
        name = f"status_{status}"
        if not (self.prompts.dir / f"{name}.wav").exists():
            name = "status_unknown"
        pcm = self.prompts["ticket_is"] + self.prompts.digits(number) + self.prompts[name]
        done = call.media.play(pcm)
        while not done.wait(0.05):
            if call.ended.is_set():
                raise CallerGone()

    def _voicemail(self, call: InboundCall, call_id: int, prompt: str = "voicemail",
                   callback_key: str | None = None) -> tuple[str, int | None]:
        """Record a message into a ticket. With ``callback_key`` the caller may instead press that
        key first (during the prompt or the recording) to be called back: the call then ends as
        ``abandoned``, i.e. on the missed-call list the operators call back (漏接回拨)."""
        if callback_key:
            call.media.flush_dtmf()
        self._play(call, prompt, "beep")
        if not callback_key:
            call.media.flush_dtmf()
        call.media.start_recording()
        call.pending_outcome = "voicemail"  # type: ignore[attr-defined]
        deadline = time.monotonic() + self.cfg.voicemail_max_seconds
        first = True
        while time.monotonic() < deadline and not call.ended.is_set():
            try:
                key = call.dtmf.get(timeout=0.1)
            except Exception:
                continue
            if first and callback_key and key == callback_key:
                call.media.stop_recording()
                return self._call_back_requested(call, call_id)
            first = False
            if key == "#":
                break
        pcm = call.media.stop_recording()
        path = Path(self.cfg.voicemail_dir) / f"{self.cfg.bridge_id}-{call_id}.wav"
        from .media import save_wav
        save_wav(path, pcm)
        call.recording_path = str(path)  # type: ignore[attr-defined]
        ticket_id = self.ports.tickets.open_voicemail_ticket(call_id, call.caller, str(path))
        log.info("call %s voicemail %.1f s -> ticket %s", call_id, len(pcm) / 16000, ticket_id)
        if not call.ended.is_set():
            try:
                self._play(call, "voicemail_thanks")
            except CallerGone:
                pass
        return "voicemail", ticket_id

    def _call_back_requested(self, call: InboundCall, call_id: int) -> tuple[str, int | None]:
        call.pending_outcome = "abandoned"  # type: ignore[attr-defined]
        log.info("call %s: the caller asked to be called back", call_id)
        try:
            self._play(call, "callback_noted")
        except CallerGone:
            pass
        return "abandoned", None

    # -- queue --------------------------------------------------------------------------------
    def _queue_and_connect(self, call: InboundCall, call_id: int) -> str:
        self.ports.calls.queued(call_id)
        entry = QueueEntry(call, call_id, time.monotonic())
        call.pending_outcome = "abandoned"  # type: ignore[attr-defined]
        with self._qlock:
            self._queue.append(entry)
            self._qlock.notify_all()
        call.media.play(self.prompts["queue"])
        call.media.play(self.prompts["hold"] + self.prompts["music"] * 4, loop=True)
        try:
            while not entry.connected.wait(0.1):
                if call.ended.is_set():
                    raise CallerGone()
                if (self.cfg.max_queue_seconds and not entry.offering
                        and time.monotonic() - entry.enqueued > self.cfg.max_queue_seconds):
                    with self._qlock:
                        if entry.offering or entry.connected.is_set():
                            continue
                        entry.done = True
                    call.media.stop_playback()
                    log.info("call %s waited %.0f s in the queue: offering voicemail or a call-back",
                             call_id, time.monotonic() - entry.enqueued)
                    outcome, tid = self._voicemail(call, call_id, "no_operator", callback_key="2")
                    call.voicemail_ticket = tid  # type: ignore[attr-defined]
                    return outcome
        finally:
            with self._qlock:
                entry.done = True
                if entry in self._queue:
                    self._queue.remove(entry)
        # connected: the operator thread owns the conversation; wait for the caller to go
        call.pending_outcome = "answered"  # type: ignore[attr-defined]
        call.ended.wait()
        return "answered"

    def queue_length(self) -> int:
        with self._qlock:
            return len(self._queue)

    def _dispatch_loop(self) -> None:
        while self._running:
            with self._qlock:
                self._qlock.wait(0.25)
                waiting = [e for e in self._queue if not e.offering and not e.done]
            for entry in waiting:  # oldest first
                if entry.call.ended.is_set():
                    continue
                try:
                    op = self.ports.operators.next_available(frozenset(entry.skipped))
                except Exception:
                    log.exception("operator directory failed")
                    op = None
                if op is None:
                    if entry.skipped:
                        now = time.monotonic()
                        if not entry.all_skipped_at:
                            entry.all_skipped_at = now
                        elif now - entry.all_skipped_at > self.cfg.skip_retry_seconds:
                            entry.skipped.clear()
                            entry.all_skipped_at = 0.0
                    break  # nobody free: later callers won't find anyone either
                operator_id, uri = op
                self.ports.operators.mark_busy(operator_id)
                entry.offering = True
                threading.Thread(target=self._offer, args=(entry, operator_id, uri),
                                 name=f"offer-{entry.call_id}-{operator_id}", daemon=True).start()

    def _offer(self, entry: QueueEntry, operator_id: int, uri: str) -> None:
        call, call_id = entry.call, entry.call_id
        connected = False
        try:
            self.ports.calls.ringing(call_id, operator_id)  # screen-pop
            leg = self.ua.dial(uri, caller=call.caller, display="12345")
            stop_watch = threading.Event()

            def watch_caller() -> None:  # caller hangs up while the operator rings
                while not stop_watch.is_set():
                    if call.ended.wait(0.1):
                        leg.cancel("no_answer")
                        return
            threading.Thread(target=watch_caller, daemon=True).start()
            result = leg.wait(self.cfg.operator_ring_seconds)
            stop_watch.set()
            if result != "answered":
                log.info("operator %s did not take call %s: %s", operator_id, call_id, result)
                entry.skipped.add(operator_id)
                if not call.ended.is_set():
                    self.ports.calls.unassigned(call_id, operator_id)
                return
            with self._qlock:
                if call.ended.is_set() or entry.done:
                    leg.hangup()
                    return
                entry.done = True
                connected = True
            self.ports.calls.answered(call_id, operator_id)
            call.media.stop_playback()
            mixer = Mixer(self.media)
            active = ActiveCall(call_id, call, operator_id, mixer, [call, leg])
            self.active[call_id] = active
            mixer.add(call.media)
            mixer.add(leg.media)
            entry.connected.set()
            log.info("call %s connected to operator %s after %.1f s in queue", call_id, operator_id,
                     time.monotonic() - entry.enqueued)
            # the conversation lasts until the caller or the operator hangs up
            while not call.ended.is_set() and not leg.ended.is_set():
                call.ended.wait(0.1)
            for other in active.legs:
                if other.state != "ended":
                    other.hangup()
            self.active.pop(call_id, None)
        except Exception:
            log.exception("offering call %s to operator %s failed", call_id, operator_id)
            entry.skipped.add(operator_id)
        finally:
            entry.offering = False
            self.ports.operators.mark_available(operator_id)
            if not connected:
                with self._qlock:
                    self._qlock.notify_all()

    # -- three-way with an expert desk ---------------------------------------------------------
    def add_expert(self, call_id: int, desk: str | int, ring_seconds: float = 30.0) -> str:
        """Bring an expert desk into a connected call (三方通话): answered / no_answer / failed."""
        return self.join_expert(call_id, desk, ring_seconds).outcome

    def join_expert(self, call_id: int, desk: str | int, ring_seconds: float) -> OutboundResult:
        """Claim a free expert of ``desk``, ring them and mix them into the live call ``call_id``.

        ``outcome`` is ``answered`` (mixed in, ``expert_joined`` reported), ``no_answer`` (rang
        out or busy; ``detail`` says which) or ``failed`` (the call is not live here, nobody of
        the desk is free, the dial failed). The expert is released when their leg ends.
        """
        active = self.active.get(call_id)
        if active is None or active.caller.ended.is_set():
            return OutboundResult("failed", call_id=call_id, detail="call not live on this bridge")
        found = self.ports.operators.expert_for(desk)
        if found is None:
            return OutboundResult("failed", call_id=call_id, detail="no expert of the desk is free")
        expert_id, uri = found
        released = threading.Event()

        def release(*_: object) -> None:
            if not released.is_set():
                released.set()
                self.ports.operators.mark_available(expert_id)

        def gone() -> bool:  # the conversation is over (or was cleaned up without this leg)
            return active.caller.ended.is_set() or self.active.get(call_id) is not active

        try:
            caller = active.caller.caller if isinstance(active.caller, InboundCall) else self.cfg.line
            leg = self.ua.dial(uri, caller=caller, display=f"{self.cfg.line}-expert")
        except Exception as exc:
            release()
            return OutboundResult("failed", call_id=call_id, detail=f"dial failed: {exc}",
                                  expert_id=expert_id)
        stop_watch = threading.Event()

        def watch_call() -> None:  # the citizen or the operator hangs up while the expert rings
            while not stop_watch.wait(0.1):
                if gone():
                    leg.cancel("no_answer")
                    return
        threading.Thread(target=watch_call, name=f"expert-watch-{call_id}", daemon=True).start()
        try:
            result = leg.wait(ring_seconds)
        finally:
            stop_watch.set()
        if result != "answered" or gone():
            if leg.state != "ended":
                leg.hangup()
            release()
            if result == "answered" or gone():
                return OutboundResult("failed", call_id=call_id, detail="call ended while ringing",
                                      expert_id=expert_id)
            log.info("expert %s of desk %s did not take call %s: %s", expert_id, desk, call_id, result)
            return OutboundResult("no_answer" if result in ("no_answer", "busy") else "failed",
                                  call_id=call_id, detail=result, expert_id=expert_id)
        leg.on_end.append(lambda lg: (active.mixer.remove(lg.media), release()))
        active.legs.append(leg)
        active.mixer.add(leg.media)
        if gone() or leg.ended.is_set():
            # the call's clean-up may have run before this leg was in active.legs
            if leg.state != "ended":
                leg.hangup()
            release()
            return OutboundResult("failed", call_id=call_id, detail="call ended while joining",
                                  expert_id=expert_id)
        self.ports.calls.expert_joined(call_id, expert_id)
        log.info("expert %s of desk %s joined call %s", expert_id, desk, call_id)
        return OutboundResult("answered", call_id=call_id, expert_id=expert_id)

    # -- outbound -----------------------------------------------------------------------------
    def call_back(self, operator_id: int, number: str, ring_seconds: float | None = None,
                  missed_call_id: int | None = None) -> OutboundResult:
        """Click-to-call-back: ring the operator, then the citizen, then connect them."""
        ring = ring_seconds or self.cfg.outbound_ring_seconds
        op_uri = self.ports.operators.sip_uri(operator_id)
        if not op_uri:
            return OutboundResult("failed", detail="operator has no SIP URI")
        if self.ports.operators.mark_busy(operator_id) is False:
            # on another call (or ringing for one): their phone must not ring in the middle of it
            return OutboundResult("failed", detail="operator is on another call")
        try:
            op_leg = self.ua.dial(op_uri, caller=self.cfg.line, display="12345-callback")
            if op_leg.wait(self.cfg.operator_ring_seconds) != "answered":
                return OutboundResult("failed", detail="operator did not answer")
            op_leg.media.play(self.prompts["music"], loop=True)
            leg = OutboundCall(self.ua, number, self.cfg.line)
            try:
                call_id = self.ports.calls.outbound(number, "missed_call", self.cfg.bridge_id,
                                                    leg.call_id, operator_id, line=self.cfg.line)
            except Exception:
                leg.finish("not_logged")
                op_leg.hangup()
                raise
            self.ports.calls.ringing(call_id, operator_id)  # the operator's console shows the citizen
            leg.dial()
            result = leg.wait(ring)
            if result != "answered":
                op_leg.hangup()
                self.ports.calls.ended(call_id, result)
                return OutboundResult(result, call_id=call_id)
            self.ports.calls.answered(call_id, operator_id)
            op_leg.media.stop_playback()
            mixer = Mixer(self.media)
            active = ActiveCall(call_id, leg, operator_id, mixer, [leg, op_leg])
            self.active[call_id] = active
            mixer.add(leg.media)
            mixer.add(op_leg.media)

            def wait_end() -> None:
                while not leg.ended.is_set() and not op_leg.ended.is_set():
                    leg.ended.wait(0.2)
                for lg in active.legs:
                    if lg.state != "ended":
                        lg.hangup()
                self.active.pop(call_id, None)
                self.ports.calls.ended(call_id, "answered")
                self.ports.operators.mark_available(operator_id)
            threading.Thread(target=wait_end, daemon=True).start()
            return OutboundResult("answered", call_id=call_id)
        finally:
            if operator_id not in [a.operator_id for a in self.active.values()]:
                self.ports.operators.mark_available(operator_id)

    def survey_call(self, number: str, prompt: str = "survey", max_digits: int = 1,
                    digit_timeout: float = 8.0, ring_timeout: float | None = None,
                    purpose: str = "survey",
                    questions: tuple[tuple[str, str], ...] = ()) -> OutboundResult:
        """Dial, play a prompt, collect DTMF. Always ends: answered/busy/no_answer/failed.

        With ``questions`` (``((prompt, valid digits), ...)``, e.g. the satisfaction survey) each
        prompt is asked in turn for one digit, ``digit_timeout`` s after the prompt ends, asked
        once more after a silence or an invalid key; ``digits`` holds the answers in order ("12"),
        as far as the citizen got. Without, ``prompt`` is played once for up to ``max_digits``.
        """
        try:
            leg = OutboundCall(self.ua, number, self.cfg.line)
        except Exception as exc:  # a number or URI we cannot dial
            return OutboundResult("failed", detail=str(exc))
        try:
            call_id = self.ports.calls.outbound(number, purpose, self.cfg.bridge_id, leg.call_id,
                                                line=self.cfg.line)
        except Exception:
            leg.finish("not_logged")
            raise
        try:
            leg.dial()
        except Exception as exc:
            leg.finish("dial_failed")
            self.ports.calls.ended(call_id, "failed")
            return OutboundResult("failed", call_id=call_id, detail=str(exc))
        result = leg.wait(ring_timeout or self.cfg.outbound_ring_seconds)
        answers: list[str] = []
        if result == "answered":
            try:
                leg.media.flush_dtmf()
                if questions:
                    self._ask(leg, questions, digit_timeout, answers)
                else:
                    leg.media.play(self.prompts[prompt])
                    answers.append(self._collect(
                        leg, max_digits, digit_timeout + len(self.prompts[prompt]) / 16000,
                        digit_timeout, terminator="#"))
                if "".join(answers):
                    self._play(leg, "survey_thanks")
            except CallerGone:
                pass
            finally:
                leg.hangup()
        digits = "".join(answers)
        self.ports.calls.ended(call_id, result)
        log.info("outbound %s to %s: %s %s", purpose, mask_text(number), result,
                 f"{len(digits)} digits" if digits else "")
        return OutboundResult(result, digits, call_id)

    def _ask(self, leg: Leg, questions: tuple[tuple[str, str], ...], digit_timeout: float,
             answers: list[str], tries: int = 2) -> None:
        """One valid digit per question into ``answers``; stops at a question left unanswered.
        Digits keyed ahead (during a prompt, or for the next question) are kept."""
        for prompt, valid in questions:
            got = ""
            for _ in range(tries):
                pcm = self.prompts[prompt]
                leg.media.play(pcm)
                key = self._collect(leg, 1, digit_timeout + len(pcm) / 16000, 0, terminator=None)
                if key and key in valid:
                    got = key
                    break
                if key:  # a key that answers nothing: say so, ask again
                    leg.media.flush_dtmf()
                    self._play(leg, "invalid")
            if not got:
                return
            answers.append(got)

    def _jobs_loop(self) -> None:
        jobs = self.ports.jobs
        if jobs is None:
            return
        while self._running:
            time.sleep(self.cfg.outbound_poll_seconds)
            free = self.cfg.outbound_max_parallel - self._jobs_running
            if free <= 0 or not self._running:
                continue
            try:
                claimed = jobs.claim(self.cfg.bridge_id, free)
            except Exception:
                log.exception("claiming outbound jobs failed")
                continue
            for job in claimed:
                with self._jobs_lock:
                    self._jobs_running += 1
                threading.Thread(target=self._run_job, args=(job,), daemon=True).start()

    def _run_job(self, job: OutboundJob) -> None:
        try:
            if job.purpose == "missed_call":
                result = (self.call_back(job.operator_id, job.number, job.ring_timeout, job.call_id)
                          if job.operator_id is not None
                          else OutboundResult("failed", detail="no operator to connect"))
            elif job.purpose == "expert_join":
                if job.call_id is None or job.desk is None:
                    result = OutboundResult("failed", call_id=job.call_id, detail="no call or desk")
                else:
                    result = self.join_expert(job.call_id, job.desk, self.cfg.operator_ring_seconds)
            elif job.purpose in ("satisfaction", "survey"):
                questions = job.questions or (SATISFACTION_QUESTIONS if job.purpose == "satisfaction"
                                              else ())
                result = self.survey_call(job.number, job.prompt, job.max_digits, job.digit_timeout,
                                          job.ring_timeout, job.purpose, questions)
            else:
                result = OutboundResult("failed", detail=f"unknown job kind {job.purpose!r}")
        except Exception as exc:
            log.exception("outbound job %s failed", job.job_id)
            result = OutboundResult("failed", detail=str(exc))
        finally:
            with self._jobs_lock:
                self._jobs_running -= 1
        try:
            self.ports.jobs.report(job.job_id, result)
        except Exception:
            log.exception("reporting outbound job %s failed", job.job_id)


def start_bridge(config: SipConfig | None = None, ports: Ports | None = None) -> Bridge:
    """Start a bridge (``config`` defaults to :meth:`SipConfig.from_env`). ``handle.stop()``."""
    cfg = config or SipConfig.from_env()
    if ports is None:
        from .memory import memory_ports
        ports = memory_ports()
    os.makedirs(cfg.voicemail_dir, exist_ok=True)
    return Bridge(cfg, ports).start()
