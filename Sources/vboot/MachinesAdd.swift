import ArgumentParser
import VBootAPI

struct MachinesAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a machine by MAC.")

    @Argument(help: "The machine's MAC address.") var mac: String
    @OptionGroup var fields: MachineFields
    @OptionGroup var api: APIOptions

    func run() async throws {
        var write = try fields.write()
        write.mac = .set(mac)
        let machine = try await api.client().call("POST", "/machines", body: write, as: MachineResource.self)
        MachineText.print(machine, json: api.json)
    }
}
