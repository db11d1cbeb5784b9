import ArgumentParser
import VBootAPI

struct MachinesRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a machine.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @OptionGroup var api: APIOptions

    func run() async throws {
        try await api.client().call("DELETE", "/machines/\(APIClient.segment(machine))")
        if !api.json { print("removed \(machine)") }
    }
}
