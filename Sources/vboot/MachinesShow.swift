import ArgumentParser
import VBootAPI

struct MachinesShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one machine (MAC, or uuid:…, serial:…, hostname:…).")

    @Argument(help: "The machine.") var machine: String
    @OptionGroup var api: APIOptions

    func run() async throws {
        let found = try await api.client().call(
            "GET", "/machines/\(APIClient.segment(machine))", as: MachineResource.self)
        MachineText.print(found, json: api.json)
    }
}
