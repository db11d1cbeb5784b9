extension VariableStore {
    /// Where `addBootOption` puts the new option in BootOrder.
    public enum BootOrderPlacement: Sendable {
        case first
        case last
        /// Leave BootOrder alone (with `bootNext: true` the option is tried once, as `--set-boot-uri`).
        case unchanged
    }

    /// The load option in `Boot####`, or nil if there is none.
    public func loadOption(_ number: UInt16) throws(EFILoadOptionError) -> EFILoadOption? {
        guard let variable = variable(named: EFIBootOrder.bootOptionName(number), guid: .globalVariable) else {
            return nil
        }
        return try EFILoadOption(parsing: variable.data)
    }

    /// BootOrder, or nil if the store has none (a pristine OVMF template).
    public func bootOrder() throws(EFILoadOptionError) -> EFIBootOrder? {
        guard let variable = variable(named: EFIBootOrder.bootOrderName, guid: .globalVariable) else { return nil }
        return try EFIBootOrder(parsing: variable.data)
    }

    /// BootNext, or nil if unset or not two bytes.
    public var bootNext: UInt16? {
        guard let data = variable(named: EFIBootOrder.bootNextName, guid: .globalVariable)?.data, data.count == 2 else {
            return nil
        }
        return UInt16(data[0]) | UInt16(data[1]) << 8
    }

    /// The lowest option number with no live `Boot####` variable (virt-fw-vars' choice too).
    public func unusedBootOptionNumber() -> UInt16? {
        let used = Set(
            variables.filter { $0.guid == .globalVariable }.compactMap { EFIBootOrder.bootOptionNumber($0.name) })
        return (0..<UInt16.max).first { !used.contains($0) }
    }

    /// Writes `option` as `Boot####` (NV+BS+RT), places it in BootOrder (creating BootOrder if
    /// needed) and optionally sets BootNext to it.
    public mutating func addBootOption(
        _ option: EFILoadOption, number: UInt16, placement: BootOrderPlacement = .first, bootNext: Bool = false
    ) throws {
        try set(
            name: EFIBootOrder.bootOptionName(number), guid: .globalVariable, attributes: .bootVariable,
            data: option.encoded())
        switch placement {
        case .unchanged:
            break
        case .first, .last:
            var order = try bootOrder() ?? EFIBootOrder([])
            if placement == .first { order.moveToFront(number) } else { order.appendIfMissing(number) }
            let attributes =
                variable(named: EFIBootOrder.bootOrderName, guid: .globalVariable)?.attributes ?? .bootVariable
            try set(
                name: EFIBootOrder.bootOrderName, guid: .globalVariable, attributes: attributes, data: order.encoded())
        }
        if bootNext { try setBootNext(number) }
    }

    /// Sets BootNext (NV+BS+RT, or the attributes it already has).
    public mutating func setBootNext(_ number: UInt16) throws(VariableStoreError) {
        let attributes = variable(named: EFIBootOrder.bootNextName, guid: .globalVariable)?.attributes ?? .bootVariable
        try set(
            name: EFIBootOrder.bootNextName, guid: .globalVariable, attributes: attributes,
            data: EFIBootOrder.bootNextData(number))
    }
}
