import CoreMetrics

/// The response cache as an operator watches it: item lookups that hit or missed, expired items
/// served because the upstream failed, evictions, identical in-flight calls joined, and (set at
/// each scrape, `observe`) the entries and bytes held; every series exists from start-up.
public struct CacheMetrics: Sendable {
    /// Items found fresh.
    let hits: Counter
    /// Items not found fresh (fetched, joined, or served stale).
    let misses: Counter
    /// Expired items served because their upstream call failed.
    let staleServed: Counter
    /// Entries evicted to stay within `cache.max_bytes`.
    let evictions: Counter
    /// In-flight upstream calls of other requests joined instead of made again.
    let coalesced: Counter
    private let entries: Gauge
    private let bytes: Gauge

    /// Records into `factory`.
    public init(factory: any MetricsFactory) {
        hits = Counter(label: MetricCatalog.cacheHits.name, factory: factory)
        misses = Counter(label: MetricCatalog.cacheMisses.name, factory: factory)
        staleServed = Counter(label: MetricCatalog.cacheStaleServed.name, factory: factory)
        evictions = Counter(label: MetricCatalog.cacheEvictions.name, factory: factory)
        coalesced = Counter(label: MetricCatalog.coalescedCalls.name, factory: factory)
        entries = Gauge(label: MetricCatalog.cacheEntries.name, factory: factory)
        bytes = Gauge(label: MetricCatalog.cacheBytes.name, factory: factory)
        entries.record(0)
        bytes.record(0)
    }

    /// Sets the entries and bytes gauges from `cache`.
    public func observe(_ cache: InMemoryResponseCache) {
        let held = cache.held
        entries.record(held.entries)
        bytes.record(held.bytes)
    }
}
