import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

struct MeanShiftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meanshift",
        abstract: "The MeanShift baseline: the means of the heads' teacher-forced T and P over a training file.",
        discussion: """
        Runs the frozen base over every example of --data (prompt, completion) with teacher forcing and averages \
        the heads' predicted temperature and top-p over the supervised tokens (the completions and EOS), as the \
        critique "Token-Level Control or Just a Better Mean?" defines its baseline; also reports 1/mean(1/T). \
        Evaluate it with `autodeco eval --method meanshift:T,P` (the values printed here) or \
        `--method meanshift --meanshift-data FILE`.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var headsOption: EvalHeadsOption

    @Option(name: .long, help: "Training file (JSON Lines: prompt, completion), e.g. the heads' own training data.")
    var data: String

    @OptionGroup var output: JSONReportOptions

    func run() throws {
        let context = try EvaluationContext(modelOptions: modelOptions, headsDirectory: headsOption.directory(modelOptions), headWeights: headsOption.headWeights)
        let m = try context.meanShift(data: data)
        Console.info(String(format: """
            %d supervised tokens of %@
            mean T %.4f (std %.4f), 1/mean(1/T) %.4f; mean P %.4f (std %.4f)
            evaluate with: --method %@
            """, m.positions, data, m.meanTemperature, m.stdTemperature, m.inverseMeanTemperature, m.meanTopP, m.stdTopP,
            m.method.description))
        // Encoded only to be re-serialised below with the method and data added, so no formatting here.
        var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(m)) as! [String: Any]
        object["method"] = m.method.description
        object["data"] = data
        let text = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try output.emit(text)
    }
}
