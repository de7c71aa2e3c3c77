import Dates
import DynamicJSON
import GatewayCore
import Testing

@Suite struct LRUStoreTests {
    @Test func evictsLeastRecentlyUsedPastTheByteBound() {
        var store = LRUStore<String, Int>(capacity: 30)
        store.set("a", 1, size: 10)
        store.set("b", 2, size: 10)
        store.set("c", 3, size: 10)
        #expect(store.get("a") == 1)
        store.set("d", 4, size: 10)
        #expect(store.get("b") == nil)
        #expect(store.get("a") == 1)
        #expect(store.get("c") == 3)
        #expect(store.get("d") == 4)
        #expect(store.bytes == 30)
    }

    @Test func replacesAndRefusesOversizedEntries() {
        var store = LRUStore<String, Int>(capacity: 20)
        store.set("a", 1, size: 10)
        store.set("a", 2, size: 15)
        #expect(store.get("a") == 2)
        #expect(store.bytes == 15)
        store.set("huge", 3, size: 21)
        #expect(store.get("huge") == nil)
        #expect(store.count == 1)
    }
}

@Suite struct CacheTTLPolicyTests {
    private let policy = CacheTTLPolicy(fresh: .seconds(300), settled: .seconds(86_400), settledAfterDays: 3)

    @Test(arguments: [
        ("2025-03-01", "2025-03-30", "2025-04-10", 86_400), ("2025-03-01", "2025-03-30", "2025-04-02", 300),
        ("2025-03-01", "2025-03-30", "2025-03-30", 300),
    ])
    func keepsSettledWindowsLongerThanRecentOnes(start: String, end: String, today: String, seconds: Int) {
        let window = DayRange(start: CalendarDay(iso: start)!, end: CalendarDay(iso: end)!)!
        #expect(policy.ttl(for: window, today: CalendarDay(iso: today)!) == .seconds(seconds))
    }
}

@Suite struct InMemoryResponseCacheTests {
    @Test func servesFreshThenExpiredWithItsAgeAndStaysWithinItsBound() {
        let cache = InMemoryResponseCache(maxBytes: 4_096)
        let window = DayRange(start: CalendarDay(iso: "2025-03-01")!, end: CalendarDay(iso: "2025-03-30")!)!
        let key = CacheKey(scope: CallScope(workspace: "w", operation: "stats VIEW_THROUGH TOTAL \(window)"), item: "c1")
        let now = ContinuousClock.now
        let value = EncodedJSON(["sent": 5])
        cache.store(key, .present(value), ttl: .seconds(10), now: now)
        #expect(cache.lookup(key, now: now + .seconds(5)) == .fresh(.present(value), expires: now + .seconds(10)))
        #expect(cache.lookup(key, now: now + .seconds(15)) == .expired(.present(value), storedAt: now))
        for index in 0..<100 {
            var other = key
            other.item = "filler-\(index)"
            cache.store(other, .absent, ttl: .seconds(10), now: now)
        }
        #expect(cache.bytes <= 4_096)
        #expect(cache.lookup(key, now: now) == .miss)
    }
}
