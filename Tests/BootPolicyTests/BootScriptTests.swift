import BootPolicy
import Testing

@Suite("boot script rendering")
struct BootScriptTests {
    static let context = BootScriptContext(
        mac: "52-54-00-aa-00-01", serverURL: "http://10.0.0.2:8080",
        query: ["uuid": "4c4c4544-0042", "serial": "ABC 123", "product": "Lab\nshell"])

    @Test func mustacheValuesAndIPXEVariables() throws {
        let script = "#!ipxe\nkernel {{assets}}/linux mac={{mac}} uuid={{uuid}} ip=${net0/ip}\n"
        let out = try BootScriptRenderer.render(template: script, name: "t", context: Self.context)
        #expect(
            out
                == "#!ipxe\nkernel http://10.0.0.2:8080/assets/linux mac=52-54-00-aa-00-01 uuid=4c4c4544-0042 ip=${net0/ip}\n"
        )
    }

    @Test func nothingIsHTMLEscaped() throws {
        let out = try BootScriptRenderer.render(
            template: "chain {{server}}/boot.ipxe?mac={{mac}}&x=1 <>", name: "t", context: Self.context)
        #expect(out == "chain http://10.0.0.2:8080/boot.ipxe?mac=52-54-00-aa-00-01&x=1 <>")
    }

    @Test func clientValuesCannotInjectCommands() throws {
        let out = try BootScriptRenderer.render(template: "echo {{product}}", name: "t", context: Self.context)
        #expect(out == "echo Labshell", "the newline is dropped, so no second command")
        #expect(Self.context.values["serial"] == "ABC_123")
    }

    /// A client cannot add kernel arguments to its own script through a value it sends.
    @Test func clientValuesStayOneKernelArgument() throws {
        let context = BootScriptContext(
            mac: "52-54-00-aa-00-01", serverURL: "http://10.0.0.2:8080",
            query: ["serial": "SN1 init=/bin/sh", "uuid": "u\tconsole=ttyS9"])
        let out = try BootScriptRenderer.render(
            template: "kernel linux serial={{serial}} uuid={{uuid}}", name: "t", context: context)
        #expect(out == "kernel linux serial=SN1_init/bin/sh uuid=uconsolettyS9")
        #expect(out.split(separator: " ").count == 4)
    }

    @Test func missingValuesRenderEmpty() throws {
        let out = try BootScriptRenderer.render(template: "[{{asset}}][{{nonsense}}]", name: "t", context: Self.context)
        #expect(out == "[][]")
    }

    /// Found by FuzzBootScript (a deep input fed to the target): Mustache's parser recurses once
    /// per section, so a profile with sections nested 50,000 deep overflowed the stack and killed
    /// the server that read it, instead of failing like any other broken template.
    @Test func deeplyNestedSectionsAreAnErrorNotACrash() throws {
        let deep = String(repeating: "{{#a}}", count: 50_000) + String(repeating: "{{/a}}", count: 50_000)
        #expect(throws: BootScriptTemplate.TemplateError.self) {
            try BootScriptTemplate(source: deep, name: "profiles/deep.ipxe")
        }
        // Inverted sections and a changed delimiter nest the same way.
        let inverted = "{{=<% %>=}}" + String(repeating: "<%^a%>", count: 50_000)
        #expect(throws: BootScriptTemplate.TemplateError.self) {
            try BootScriptTemplate(source: inverted, name: "profiles/deep.ipxe")
        }
        // Nesting a boot script might use still renders.
        let nested = String(repeating: "{{#mac}}", count: 64) + "x" + String(repeating: "{{/mac}}", count: 64)
        #expect(try BootScriptRenderer.render(template: nested, name: "ok", context: Self.context) == "x")
    }

    @Test func brokenTemplateNamesTheFile() {
        do {
            _ = try BootScriptRenderer.render(
                template: "{{#open}} never closed", name: "machines/x.ipxe", context: Self.context)
            Issue.record("rendered a broken template")
        } catch {
            #expect(error.description.contains("machines/x.ipxe"))
        }
    }
}
