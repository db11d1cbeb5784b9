extension BootScriptContext {
    /// Adds what the inventory knows. Precedence, lowest first: the profile's declared defaults,
    /// site-wide variables from the config, the machine's own variables, then vboot's values
    /// (mac, server, URLs, `vboot_vars`: the site's and machine's variables as kernel arguments,
    /// `MachineArguments`), which a variable can never shadow.
    public func merging(
        machine: Machine?, profileDefaults: [String: String] = [:], siteVariables: [String: String] = [:],
        callbackURL: String? = nil
    ) -> BootScriptContext {
        var merged = profileDefaults
        merged.merge(siteVariables) { _, site in site }
        if let machine { merged.merge(machine.variables) { _, own in own } }
        var builtIn = values
        if let hostname = machine?.hostname { builtIn["hostname"] = hostname }
        // The site's and the machine's own variables (not the profile's defaults), for the booted system.
        var exported = siteVariables
        if let machine { exported.merge(machine.variables) { _, own in own } }
        builtIn["vboot_vars"] = MachineArguments.words(exported)
        if let callbackURL { builtIn["done_url"] = callbackURL }
        merged.merge(builtIn) { variable, vboot in vboot.isEmpty ? variable : vboot }
        // Mustache treats "" as true in a section: an empty value is no value.
        return BootScriptContext(values: merged.filter { !$0.value.isEmpty })
    }

    public init(values: [String: String]) { self.values = values }
}
