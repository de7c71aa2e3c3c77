import CAllocator
import CoreMetrics
import GatewayCore
import ServiceLifecycle

/// Gives freed heap memory back to the kernel, and reports malloc's figures.
///
/// The caches free memory as they evict; glibc keeps freed chunks in its arenas (one per thread
/// that met contention, up to 8 per core) and returns only what is free at the top of each heap.
/// Under a steady churn of evictions the process's RSS so grows past what it uses (see
/// BENCHMARKS.md, "Soak"). Every `interval` this calls `malloc_trim(0)`, which releases the free
/// pages of every arena, and records `campaign_gateway_malloc_in_use_bytes` and `campaign_gateway_malloc_held_bytes`
/// (mallinfo2: allocated, and taken from the kernel). No-op figures on a C library other than glibc.
struct AllocatorTrimService: Service {
    let interval: Duration
    private let inUse: Gauge
    private let held: Gauge

    init(interval: Duration = .seconds(10), metrics: any MetricsFactory) {
        self.interval = interval
        inUse = Gauge(label: MetricCatalog.mallocInUse.name, factory: metrics)
        held = Gauge(label: MetricCatalog.mallocHeld.name, factory: metrics)
    }

    func run() async throws {
        record()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            _ = callocator_trim()
            record()
        }
    }

    private func record() {
        var used: UInt64 = 0
        var taken: UInt64 = 0
        callocator_usage(&used, &taken)
        inUse.record(Int64(clamping: used))
        held.record(Int64(clamping: taken))
    }
}
