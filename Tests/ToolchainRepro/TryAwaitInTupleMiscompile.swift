struct Answer { var names: [String: Int] }

func produce(_ i: Int) async throws -> Answer {
    await Task.yield()
    return Answer(names: ["id-\(i)": 1])
}

@main
enum Main {
    static func main() async {
        var total = 0
        for _ in 0..<2000 {
            total += await withTaskGroup(of: ([String], Result<Answer, any Error>).self) { group in
                for i in 0..<30 {
                    let chunk = ["id-\(i)"]
                    group.addTask {
                        do { return (chunk, .success(try await produce(i))) } catch { return (chunk, .failure(error)) }
                    }
                }
                var n = 0
                for await (chunk, outcome) in group {
                    if case .success(let a) = outcome { n += a.names[chunk[0]] ?? 0 }
                }
                return n
            }
        }
        print("ok", total)
    }
}
