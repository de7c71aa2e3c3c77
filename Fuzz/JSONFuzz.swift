// libFuzzer entry for DynamicJSON's reader and writer (built by `make fuzz` together with
// Sources/DynamicJSON as one module): any bytes either fail to parse with a JSONParseError, or
// parse, write, and parse again to an equal value whose writing is byte-identical.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = UnsafeBufferPointer(start: start, count: count)
    guard let value = try? JSON.parse(input) else { return 0 }
    let written = value.encodedBytes()
    guard let again = try? JSON.parse(written) else { fatalError("the writer produced bytes the reader refuses: \(written)") }
    guard again == value else { fatalError("a round trip changed the value") }
    guard again.encodedBytes() == written else { fatalError("writing is not deterministic") }
    return 0
}
