import Foundation
import GatewayProto
import SwiftProtobuf

/// The descriptors of every .proto file the gateway serves (generated into `GatewayProto`),
/// indexed by file, symbol, message and method: the source of request decoding, the OpenRPC
/// document and server reflection.
public struct ProtoCatalog: Sendable {
    /// One field of a message, as declared.
    public struct Field: Sendable {
        /// The name in the .proto file (snake_case), used by JSON-RPC and in answers.
        public var name: String
        /// The proto3 JSON name (lowerCamelCase), also accepted by Connect.
        public var jsonName: String
        /// The field number.
        public var number: Int32
        /// Whether it is proto3 `optional` (an answer may hold null for it).
        public var isOptional: Bool
        /// The declared type.
        public var type: Google_Protobuf_FieldDescriptorProto.TypeEnum
        /// The message or enum type's full name, for message and enum fields.
        public var typeName: String
        /// Whether it is `repeated` (or a map).
        public var isRepeated: Bool
        /// Its leading comment.
        public var comment: String
    }

    /// One message: its fields in declaration order, and its comment.
    public struct Message: Sendable {
        /// The full name, e.g. `gateway.v1.GetStatsRequest`.
        public var fullName: String
        /// Its fields.
        public var fields: [Field]
        /// Its leading comment.
        public var comment: String
    }

    /// One RPC of a service.
    public struct Method: Sendable {
        /// `gateway.v1.CampaignService`.
        public var service: String
        /// `GetStats`.
        public var name: String
        /// The request and response message full names.
        public var input: String, output: String
        /// Its leading comment.
        public var comment: String
        /// Whether it changes state (not `idempotency_level = NO_SIDE_EFFECTS`): Connect GET is refused for it.
        public var hasSideEffects: Bool

        /// The gRPC and Connect path, `/gateway.v1.CampaignService/GetStats`.
        public var path: String { "/\(service)/\(name)" }
    }

    /// Every file, imports first, as in the generated descriptor set.
    public let files: [Google_Protobuf_FileDescriptorProto]
    private let fileIndexByName: [String: Int]
    private let fileIndexBySymbol: [String: Int]
    private let messagesByName: [String: Message]
    private let methodsByPath: [String: Method]

    /// The catalog of the generated descriptor set.
    public static let generated = ProtoCatalog(base64: GeneratedProtoDescriptors.fileDescriptorSetBase64)

    init(base64: String) {
        guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters),
            let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: data)
        else { preconditionFailure("the generated descriptor set does not decode; run `make generate`") }
        files = set.file
        var byName: [String: Int] = [:]
        var bySymbol: [String: Int] = [:]
        var messages: [String: Message] = [:]
        var methods: [String: Method] = [:]
        for (index, file) in set.file.enumerated() {
            byName[file.name] = index
            let comments = Comments(file.sourceCodeInfo)
            let prefix = file.package.isEmpty ? "" : file.package + "."
            Self.index(file.messageType, prefix: prefix, path: [4], comments: comments, file: index, into: &messages, symbols: &bySymbol)
            for enumType in file.enumType { bySymbol[prefix + enumType.name] = index }
            for (serviceIndex, service) in file.service.enumerated() {
                let serviceName = prefix + service.name
                bySymbol[serviceName] = index
                for (methodIndex, method) in service.method.enumerated() {
                    let entry = Method(
                        service: serviceName, name: method.name, input: String(method.inputType.dropFirst()),
                        output: String(method.outputType.dropFirst()), comment: comments[[6, Int32(serviceIndex), 2, Int32(methodIndex)]],
                        hasSideEffects: method.options.idempotencyLevel != .noSideEffects)
                    methods[entry.path] = entry
                    bySymbol["\(serviceName).\(method.name)"] = index
                }
            }
        }
        fileIndexByName = byName
        fileIndexBySymbol = bySymbol
        messagesByName = messages
        methodsByPath = methods
    }

    private static func index(
        _ types: [Google_Protobuf_DescriptorProto], prefix: String, path: [Int32], comments: Comments, file: Int,
        into messages: inout [String: Message], symbols: inout [String: Int]
    ) {
        for (typeIndex, type) in types.enumerated() {
            let fullName = prefix + type.name
            let typePath = path + [Int32(typeIndex)]
            let fields = type.field.enumerated().map { fieldIndex, field in
                Field(
                    name: field.name, jsonName: field.jsonName, number: field.number, isOptional: field.proto3Optional, type: field.type, typeName: String(field.typeName.drop { $0 == "." }),
                    isRepeated: field.label == .repeated, comment: comments[typePath + [2, Int32(fieldIndex)]])
            }
            messages[fullName] = Message(fullName: fullName, fields: fields, comment: comments[typePath])
            symbols[fullName] = file
            for enumType in type.enumType { symbols["\(fullName).\(enumType.name)"] = file }
            index(type.nestedType, prefix: fullName + ".", path: typePath + [3], comments: comments, file: file, into: &messages, symbols: &symbols)
        }
    }

    /// The message with this full name.
    public func message(_ fullName: String) -> Message? { messagesByName[fullName] }

    /// The RPC at this path (`/package.Service/Method`).
    public func method(path: String) -> Method? { methodsByPath[path] }

    /// Every service's full name, sorted.
    public var serviceNames: [String] {
        Array(Set(methodsByPath.values.map(\.service))).sorted()
    }

    /// The file with this name, and every file it imports (transitively), as serialized descriptors.
    public func fileWithImports(named name: String) -> [Data]? {
        fileIndexByName[name].map(closure)
    }

    /// The file declaring this fully qualified symbol (message, enum, service or method), with its imports.
    public func fileWithImports(declaring symbol: String) -> [Data]? {
        fileIndexBySymbol[symbol].map(closure)
    }

    private func closure(of index: Int) -> [Data] {
        var order: [Int] = []
        var seen: Set<Int> = []
        func visit(_ index: Int) {
            guard seen.insert(index).inserted else { return }
            order.append(index)
            for dependency in files[index].dependency { if let next = fileIndexByName[dependency] { visit(next) } }
        }
        visit(index)
        return order.map { (try? files[$0].serializedBytes()) ?? Data() }
    }
}

/// A file's leading comments by source path.
private struct Comments {
    private let byPath: [[Int32]: String]

    init(_ info: Google_Protobuf_SourceCodeInfo) {
        var byPath: [[Int32]: String] = [:]
        for location in info.location where location.hasLeadingComments {
            byPath[location.path] = location.leadingComments.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(" ") ? String($0.dropFirst()) : String($0) }.joined(separator: "\n")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        self.byPath = byPath
    }

    subscript(path: [Int32]) -> String { byPath[path] ?? "" }
}
