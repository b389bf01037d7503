import ArgumentParser
import AutoDeco
import Foundation

struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Create and inspect AutoDeco heads checkpoints (the official heads-only format).",
        subcommands: [HeadsInitCommand.self, HeadsInspectCommand.self, HeadsConvertCommand.self])
}

struct HeadsInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write new, untrained heads for a model (PyTorch's nn.Linear initialisation), for training.")

    @Option(name: .long, help: "Where to write the checkpoint directory (config.json + model.safetensors).")
    var out: String

    @Option(name: .long, help: "Random seed of the initialisation.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Weight dtype: f32 or bf16 (the released checkpoints use bf16).")
    var dtype: String = "f32"

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let path = try modelOptions.resolvePath()
        let config = try ModelConfig(gguf: GGUFFile(path: path))
        let d = try headsDType(dtype)
        let heads = AutoDecoHeads(hiddenSize: config.hidden, seed: seed)
        try AutoDecoCheckpoint.save(heads, to: out, baseConfig: AutoDecoConfig(model: config, nameOrPath: path), dtype: d)
        Console.info("wrote \(out): heads for \(config.architecture), hidden size \(config.hidden), \(heads.parameterCount) parameters (\(dtype))")
    }
}

struct HeadsInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what an AutoDeco heads checkpoint holds.")

    @Argument(help: "The checkpoint directory.")
    var directory: String

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let config = try AutoDecoConfig(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        let heads = try AutoDecoCheckpoint.load(directory: directory)
        let store = try SafetensorsDirectory(directory: directory)
        let tensors = AutoDecoCheckpoint.tensorShapes(hiddenSize: heads.hiddenSize).map { t -> (String, [Int], String) in
            (t.name, t.shape, (try? store.info(t.name).dtype.rawValue) ?? "?")
        }
        let tParams = heads.temperatureHead.parameterCount, pParams = heads.topPHead.parameterCount
        if json {
            Console.jsonLine(["directory": directory, "base_model_type": config.baseModelType ?? NSNull(),
                              "base_model_name_or_path": config.fields["base_model_name_or_path"] ?? NSNull(),
                              "hidden_size": heads.hiddenSize, "temperature_head": ["enabled": heads.temperatureHeadEnabled, "parameters": tParams],
                              "top_p_head": ["enabled": heads.topPHeadEnabled, "parameters": pParams], "parameters": tParams + pParams,
                              "tensors": tensors.map { ["name": $0.0, "shape": $0.1, "dtype": $0.2] }])
            return
        }
        var out = """
        AutoDeco heads: \(directory)
          base model type: \(config.baseModelType ?? "(not given)")   base model: \(config.fields["base_model_name_or_path"] as? String ?? "(not given)")
          hidden size: \(heads.hiddenSize)
          temperature head: \(heads.temperatureHeadEnabled ? "enabled" : "disabled"), \(tParams) parameters
          top-p head: \(heads.topPHeadEnabled ? "enabled" : "disabled"), \(pParams) parameters (enhanced features)
          total: \(tParams + pParams) parameters
          tensors:

        """
        for (name, shape, dt) in tensors { out += "    \(name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(shape) \(dt)\n" }
        Console.out(out)
    }
}

func headsDType(_ name: String) throws -> SafetensorsDType {
    guard let d = ["f32": SafetensorsDType.f32, "bf16": .bf16][name] else { throw ValidationError("--dtype must be f32 or bf16") }
    return d
}

struct HeadsConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Copy a heads checkpoint with another weight dtype (bf16 halves the size; the released heads use it).")

    @Argument(help: "The checkpoint directory to read.")
    var input: String

    @Option(name: .long, help: "Where to write the copy.")
    var out: String

    @Option(name: .long, help: "Weight dtype: f32 or bf16.")
    var dtype: String = "bf16"

    func run() throws {
        let d = try headsDType(dtype)
        let config = try AutoDecoConfig(contentsOf: URL(fileURLWithPath: input).appendingPathComponent("config.json").path)
        let heads = try AutoDecoCheckpoint.load(directory: input)
        try AutoDecoCheckpoint.save(heads, to: out, baseConfig: config, dtype: d)
        Console.info("wrote \(out) (\(dtype))")
    }
}
