import Testing
import AutoDeco
import Evaluation

struct EvaluationMethodTests {
    @Test func everyDocumentedMethodParsesAndPrintsBack() throws {
        let texts = ["greedy", "static:1.0,1.0", "static:0.7,0.95", "autodeco", "autodeco-temp-only", "autodeco-top-p-only",
                     "meanshift", "meanshift:0.5,0.9", "min-p:0.1", "edt:0.6,0.1,0.8", "dynatemp:1.0,0.5,1.0", "top-n-sigma:1.0",
                     "mirostat:5.0,0.1", "typical:0.95", "eta:0.0009", "epsilon:0.0003"]
        for t in texts {
            let m = try EvaluationMethod(parsing: t)
            #expect(m.description == t)
            #expect(try EvaluationMethod(parsing: m.description) == m)
        }
    }

    @Test func badMethodsAreNamedErrors() {
        for bad in ["greed", "static:1.0", "static:1,2", "static:-1,1", "typical:0", "edt:0.6,0.1,1.5", "mirostat:5", "min-p:x", "greedy:1"] {
            #expect(throws: EvaluationMethod.ParseError.self, "\(bad)") { try EvaluationMethod(parsing: bad) }
        }
    }

    @Test func samplingParametersFollowTheMethod() throws {
        #expect(try EvaluationMethod(parsing: "greedy").sampling(seed: 1).temperature == 0)
        let s = try EvaluationMethod(parsing: "static:0.7,0.9").sampling(seed: 3)
        #expect(s.temperature == 0.7 && s.topP == 0.9 && s.topK == 0 && s.minP == 0 && s.seed == 3 && s.filter == nil)
        let m = try EvaluationMethod(parsing: "min-p:0.1").sampling(seed: 1)
        #expect(m.temperature == 1 && m.minP == 0.1 && m.topP == 1)
        #expect(try EvaluationMethod(parsing: "typical:0.9").sampling(seed: 1).filter == .typical(mass: 0.9))
        #expect(try EvaluationMethod(parsing: "static:0.0,1.0").isDeterministic)
        #expect(try EvaluationMethod(parsing: "static:1.0,0.0").isDeterministic)
        #expect(try !EvaluationMethod(parsing: "static:1.0,1.0").isDeterministic)
    }
}
