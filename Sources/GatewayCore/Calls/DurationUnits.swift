extension Duration {
    /// Whole milliseconds, rounded down.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds, rounded down (what swift-metrics timers record).
    public var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
