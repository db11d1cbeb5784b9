import Foundation

extension VariableStore {
    /// Order of the live variables when the store is rewritten.
    public enum Layout: Sendable {
        /// By name in Unicode code point order (stable for equal names): what virt-fw-vars writes,
        /// so a store edited by either tool comes out byte-identical.
        case sortedByName
        /// Store order, new variables last: what an EDK2 reclaim would keep.
        case storeOrder
    }

    /// Sets or replaces a variable. A replaced variable keeps its place, MonotonicCount, TimeStamp
    /// and PubKeyIndex (pass `timeStamp` to change it); nothing is signed, as with virt-fw-vars.
    public mutating func set(
        name: String, guid: EFIGUID, attributes: EFIVariableAttributes, data: [UInt8], timeStamp: EFITime? = nil
    ) throws(VariableStoreError) {
        guard !name.isEmpty, !name.utf16.contains(0) else { throw .invalidName(name) }
        if let index = variables.firstIndex(where: { $0.name == name && $0.guid == guid }) {
            variables[index].attributes = attributes
            variables[index].data = data
            if let timeStamp { variables[index].timeStamp = timeStamp }
        } else {
            variables.append(
                EFIVariable(name: name, guid: guid, attributes: attributes, data: data, timeStamp: timeStamp ?? .zero))
        }
    }

    /// Removes a live variable; returns false if there was none.
    @discardableResult
    public mutating func delete(name: String, guid: EFIGUID) -> Bool {
        guard let index = variables.firstIndex(where: { $0.name == name && $0.guid == guid }) else { return false }
        variables.remove(at: index)
        return true
    }

    /// The variable region as it will be written: every live variable as a VAR_ADDED record.
    public func encodedVariables(layout: Layout = .sortedByName) -> [UInt8] {
        let ordered: [EFIVariable]
        switch layout {
        case .storeOrder:
            ordered = variables
        case .sortedByName:
            ordered = variables.enumerated().sorted { lhs, rhs in
                let left = lhs.element.name.unicodeScalars.map(\.value)
                let right = rhs.element.name.unicodeScalars.map(\.value)
                return left == right ? lhs.offset < rhs.offset : left.lexicographicallyPrecedes(right)
            }.map(\.element)
        }
        return ordered.flatMap { VariableRecord.encoded($0, authenticated: isAuthenticated) }
    }

    /// The whole file: bytes outside the variable region as read; the region holds the live
    /// variables compactly, then 0xFF (erased flash) up to the store end.
    public func encoded(layout: Layout = .sortedByName) throws(VariableStoreError) -> [UInt8] {
        let region = encodedVariables(layout: layout)
        let available = storeEnd - variablesOffset
        guard region.count <= available else { throw .storeFull(needed: region.count, available: available) }
        var bytes = original
        bytes.replaceSubrange(
            variablesOffset..<storeEnd, with: region + [UInt8](repeating: 0xFF, count: available - region.count))
        return bytes
    }

    /// Reads and parses a VARS file.
    public init(contentsOf path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try self.init(parsing: [UInt8](data))
    }

    /// Encodes and writes the store to `path` (temp file + rename).
    public func write(to path: String, layout: Layout = .sortedByName) throws {
        try Self.write(try encoded(layout: layout), to: path)
    }

    /// Writes `bytes` to a temporary file next to `path`, then renames it over `path`, so readers
    /// (QEMU, libvirt) see the old or the new file, never a half-written one.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try AtomicFile.write(Data(bytes), to: path)
    }
}
