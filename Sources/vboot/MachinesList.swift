import ArgumentParser

struct MachinesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the machines.")

    @OptionGroup var api: APIOptions

    func run() async throws {
        let (_, object) = try await api.client().call("GET", "/machines")
        if api.json { return print(APIClient.pretty(object)) }
        let machines = ((object as? [String: Any])?["machines"] as? [[String: Any]]) ?? []
        print(
            MachineText.table(
                ["MAC", "HOSTNAME", "PROFILE", "NEXT BOOT", "UPDATED (UTC)"], machines.map(MachineText.row)))
    }
}
