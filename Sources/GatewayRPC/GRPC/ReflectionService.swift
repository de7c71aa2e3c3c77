import Foundation
import GRPCCore
import GRPCProtobuf
import GatewayProto

/// gRPC server reflection (`grpc.reflection.v1`, and the same protocol as `grpc.reflection.v1alpha`
/// for older tools) over the generated descriptors, so `grpcurl` and friends need no .proto files.
struct ReflectionService: RegistrableRPCService {
    let catalog: ProtoCatalog
    /// The services this server answers.
    let services: [String]

    /// The reflection services, both versions of the one protocol.
    static let serviceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for service in Self.serviceNames {
            router.registerHandler(
                forMethod: MethodDescriptor(fullyQualifiedService: service, method: "ServerReflectionInfo", type: .bidirectionalStreaming),
                deserializer: ProtobufDeserializer<Grpc_Reflection_V1_ServerReflectionRequest>(),
                serializer: ProtobufSerializer<Grpc_Reflection_V1_ServerReflectionResponse>()
            ) { request, _ in
                StreamingServerResponse { writer in
                    for try await question in request.messages { try await writer.write(answer(question)) }
                    return [:]
                }
            }
        }
    }

    /// The answer to one reflection request.
    func answer(_ request: Grpc_Reflection_V1_ServerReflectionRequest) -> Grpc_Reflection_V1_ServerReflectionResponse {
        var response = Grpc_Reflection_V1_ServerReflectionResponse()
        response.validHost = request.host
        response.originalRequest = request
        switch request.messageRequest {
        case .listServices?:
            response.listServicesResponse = .with { $0.service = services.map { name in .with { $0.name = name } } }
        case .fileByFilename(let name)?:
            response.messageResponse = files(catalog.fileWithImports(named: name), missing: "file \(name)")
        case .fileContainingSymbol(let symbol)?:
            response.messageResponse = files(catalog.fileWithImports(declaring: symbol), missing: "symbol \(symbol)")
        case .fileContainingExtension(let request)?:
            response.messageResponse = notFound("extension \(request.extensionNumber) of \(request.containingType)")
        case .allExtensionNumbersOfType(let type)?:
            response.messageResponse =
                catalog.message(type) == nil
                ? notFound("type \(type)") : .allExtensionNumbersResponse(.with { $0.baseTypeName = type })
        case nil:
            response.messageResponse = .errorResponse(
                .with {
                    $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
                    $0.errorMessage = "no request"
                })
        }
        return response
    }

    private func files(_ found: [Data]?, missing: String) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
        guard let found else { return notFound(missing) }
        return .fileDescriptorResponse(.with { $0.fileDescriptorProto = found })
    }

    private func notFound(_ what: String) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
        .errorResponse(
            .with {
                $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
                $0.errorMessage = "\(what.prefix(200)) not found"
            })
    }
}
