import DynamicJSON
import LockedState

/// One call the simulator received, as the admin API lists it. Credentials are never stored.
struct RecordedCall: Sendable {
    var method: String
    var path: String
    /// The `MOE-APPKEY` header, or Migma's key owner; nil when absent.
    var workspace: String?
    /// `valid`, `invalid` or `missing`: the credential check, never the credential.
    var auth: String
    var status: Int
    var requestID: String?
    var body: JSON?
    /// The W3C `traceparent` header the caller sent, if any.
    var traceparent: String? = nil
}

/// The simulator's shared mutable state: call log, rule breaches, rolling limits and fault dice.
///
/// Thread-safe; every method takes one lock for a short, non-blocking critical section.
final class SimulatorLedger: Sendable {
    private struct State {
        var calls: [JSON] = []
        var breaches: [JSON] = []
        var limiters: [String: SlidingWindowLog] = [:]
        var random: SeededGenerator
        var faults: FaultInjection
        var scripted: [ScriptedAnswer] = []
    }

    private let state: Locked<State>
    private let limits: [RollingLimit]
    private let seed: UInt64
    private let initialFaults: FaultInjection
    private let started = ContinuousClock.now

    init(limits: [RollingLimit], seed: UInt64, faults: FaultInjection) {
        self.limits = limits
        self.seed = seed
        self.initialFaults = faults
        self.state = Locked(State(random: SeededGenerator(seed: seed), faults: faults))
    }

    /// The faults injected now.
    var faults: FaultInjection {
        get { state.withLock { $0.faults } }
        set { state.withLock { $0.faults = newValue } }
    }

    private var elapsedMs: Int {
        let elapsed = ContinuousClock.now - started
        return Int(elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Counts a call against the account's limits (the MoEngage ones unless given); returns the
    /// limit broken (and records a breach) when over.
    func admit(workspace: String, limits accountLimits: [RollingLimit]? = nil) -> RollingLimit? {
        let now = Double(elapsedMs) / 1_000
        return state.withLock { state in
            var log = state.limiters[workspace] ?? SlidingWindowLog(limits: accountLimits ?? limits)
            let broken = log.admit(at: now)
            state.limiters[workspace] = log
            if let broken {
                state.breaches.append([
                    "at_ms": .int(Int(now * 1_000)), "workspace": .string(workspace), "limit": .string(broken.description),
                ])
            }
            return broken
        }
    }

    /// Queues answers to give instead of simulated ones, in order.
    func script(_ answers: [ScriptedAnswer]) {
        state.withLock { $0.scripted += answers }
    }

    /// Takes the first queued answer for a request to `path`, if any.
    func takeScripted(for path: String) -> ScriptedAnswer? {
        state.withLock { state in
            guard let index = state.scripted.firstIndex(where: { $0.matches(path) }) else { return nil }
            return state.scripted.remove(at: index)
        }
    }

    /// A uniform number in [0, 1) from the seeded fault generator.
    func roll() -> Double {
        state.withLock { Double($0.random.next() >> 11) / Double(1 << 53) }
    }

    /// Appends a call to the log.
    func record(_ call: RecordedCall) {
        let at = elapsedMs
        state.withLock { state in
            state.calls.append([
                "seq": .int(state.calls.count + 1), "at_ms": .int(at), "method": .string(call.method),
                "path": .string(call.path), "workspace": call.workspace.map(JSON.string) ?? .null,
                "auth": .string(call.auth), "status": .int(call.status),
                "request_id": call.requestID.map(JSON.string) ?? .null, "body": call.body ?? .null,
                "traceparent": call.traceparent.map(JSON.string) ?? .null,
            ])
        }
    }

    /// The admin view: every call and every breach since the last reset.
    func snapshot() -> JSON {
        state.withLock { ["calls": .array($0.calls), "breaches": .array($0.breaches)] }
    }

    /// Forgets calls, breaches and rate windows; restores the configured faults and restarts their dice.
    func reset() {
        state.withLock { $0 = State(random: SeededGenerator(seed: seed), faults: initialFaults) }
    }
}
