// swift-tools-version:6.1
import PackageDescription

/// Builds the protoc plugins `make generate` runs (swift-protobuf's and grpc-swift-protobuf's), at the versions the gateway depends on.
let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "ProtocPlugins", path: "Sources/ProtocPlugins")]
)
