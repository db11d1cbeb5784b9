import ArgumentParser
import VBootAPI

struct MachinesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the machines.")

    @OptionGroup var api: APIOptions

    func run() async throws {
        let list = try await api.client().call("GET", "/machines", as: MachineList.self)
        if api.json { return print(APIClient.pretty(list)) }
        print(
            MachineText.table(
                ["MAC", "HOSTNAME", "PROFILE", "NEXT BOOT", "UPDATED (UTC)"], list.machines.map(MachineText.row)))
    }
}
