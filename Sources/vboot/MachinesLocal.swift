import ArgumentParser
import VBootAPI

struct MachinesLocal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Boot from the local disk from now on.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @OptionGroup var api: APIOptions

    func run() async throws {
        var write = MachineWrite()
        write.nextBoot = .set("local")
        let changed = try await api.client().call(
            "PATCH", "/machines/\(APIClient.segment(machine))", body: write, as: MachineResource.self)
        MachineText.print(changed, json: api.json)
    }
}
