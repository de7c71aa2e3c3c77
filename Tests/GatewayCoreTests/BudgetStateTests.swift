import GatewayCore
import Testing

private let origin = ContinuousClock.now

private func at(_ seconds: Double) -> ContinuousClock.Instant {
    origin + .milliseconds(Int64(seconds * 1_000))
}

@Suite struct SlidingWindowScheduleTests {
    /// Grants and at once completes a call at `instant`.
    private func call(_ schedule: inout SlidingWindowSchedule, at instant: ContinuousClock.Instant) {
        schedule.grant()
        schedule.complete(at: instant)
    }

    @Test func allowsUpToTheLimitThenWaitsForTheOldestCompletionToLeaveTheWindow() {
        var schedule = SlidingWindowSchedule(limits: [.init(calls: 3, window: .seconds(10))])
        for second in [0.0, 1, 2] {
            #expect(schedule.nextAllowed(after: at(second)) == at(second))
            call(&schedule, at: at(second))
        }
        #expect(schedule.nextAllowed(after: at(3)) == at(10))
        call(&schedule, at: at(10))
        #expect(schedule.nextAllowed(after: at(10)) == at(11))
    }

    @Test func countsInFlightCallsUntilTheyComplete() {
        var schedule = SlidingWindowSchedule(limits: [.init(calls: 2, window: .seconds(10))])
        schedule.grant()
        schedule.grant()
        #expect(schedule.nextAllowed(after: at(0)) == nil)
        schedule.complete(at: at(4))
        // One call in flight, one completed at 4 s: the next must wait until the completion leaves the window.
        #expect(schedule.nextAllowed(after: at(5)) == at(14))
        #expect(schedule.inFlight == 1)
    }

    @Test func enforcesEveryLimitOfTheList() {
        var schedule = SlidingWindowSchedule(limits: [.init(calls: 100, window: .seconds(60)), .init(calls: 2, window: .seconds(1))])
        call(&schedule, at: at(0))
        call(&schedule, at: at(0.1))
        #expect(schedule.nextAllowed(after: at(0.2)) == at(1))
    }

    @Test func neverAllowsTwiceTheLimitAcrossAWindowBoundary() {
        var schedule = SlidingWindowSchedule(limits: [.init(calls: 5, window: .seconds(10))])
        var grants: [ContinuousClock.Instant] = []
        var now = at(9)
        while grants.count < 20 {
            let next = schedule.nextAllowed(after: now)!
            call(&schedule, at: next)
            grants.append(next)
            now = next
        }
        for grant in grants {
            let inWindow = grants.filter { $0 > grant - .seconds(10) && $0 <= grant }
            #expect(inWindow.count <= 5)
        }
    }

    @Test func projectsWhenAPlanCompletes() {
        var schedule = SlidingWindowSchedule(limits: [.init(calls: 10, window: .seconds(60))])
        for _ in 0..<10 { call(&schedule, at: at(0)) }
        #expect(schedule.projectedCompletion(of: 1, after: at(5)) == at(60))
        #expect(schedule.projectedCompletion(of: 11, after: at(5)) == at(120))
        #expect(SlidingWindowSchedule(limits: [.init(calls: 10, window: .seconds(60))]).projectedCompletion(of: 10, after: at(5)) == at(5))
    }

    @Test func projectsEachCallFreeingItsSlotAWindowAfterItIsAnswered() {
        // Two calls per 10 s, each taking 1 s: the third is granted when the first has been answered
        // and its window has passed (at 11 s), and answered at 12 s.
        let schedule = SlidingWindowSchedule(limits: [.init(calls: 2, window: .seconds(10))])
        #expect(schedule.projectedCompletion(of: 2, after: at(0), callDuration: .seconds(1)) == at(1))
        #expect(schedule.projectedCompletion(of: 3, after: at(0), callDuration: .seconds(1)) == at(12))
        let busy = SlidingWindowSchedule(limits: [.init(calls: 2, window: .seconds(10))], inFlight: 2, completions: [])
        #expect(busy.projectedCompletion(of: 1, after: at(0), callDuration: .seconds(1)) == at(12), "in-flight calls answered after a call's duration")
    }
}

@Suite struct FairQueueTests {
    @Test func servesCallersRoundRobin() {
        var queue = FairQueue<String>()
        for index in 1...4 { queue.enqueue("a\(index)", id: index, caller: "a") }
        queue.enqueue("b1", id: 10, caller: "b")
        queue.enqueue("c1", id: 20, caller: "c")
        var order: [String] = []
        while let next = queue.next() { order.append(next) }
        #expect(order == ["a1", "b1", "c1", "a2", "a3", "a4"])
    }

    @Test func aLateCallerIsServedWithinOneRound() {
        var queue = FairQueue<String>()
        for index in 1...300 { queue.enqueue("big\(index)", id: index, caller: "big") }
        #expect(queue.next() == "big1")
        queue.enqueue("small", id: 1_000, caller: "small")
        #expect(queue.next() == "small")
        #expect(queue.count == 299)
    }

    @Test func servesACallersEarlierRequestFirst() {
        var queue = FairQueue<String>()
        let start = ContinuousClock.now
        queue.enqueue("later-1", id: 1, caller: "a", since: start + .seconds(1))
        queue.enqueue("earlier-1", id: 2, caller: "a", since: start)
        queue.enqueue("later-2", id: 3, caller: "a", since: start + .seconds(1))
        queue.enqueue("earlier-2", id: 4, caller: "a", since: start)
        #expect((0..<4).compactMap { _ in queue.next() } == ["earlier-1", "earlier-2", "later-1", "later-2"])
    }

    @Test func removesACancelledWaiter() {
        var queue = FairQueue<Int>()
        queue.enqueue(1, id: 1, caller: "a")
        queue.enqueue(2, id: 2, caller: "b")
        #expect(queue.remove(id: 1) == 1)
        #expect(queue.remove(id: 1) == nil)
        #expect(queue.next() == 2)
        #expect(queue.isEmpty)
    }
}
