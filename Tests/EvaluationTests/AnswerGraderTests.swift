import Testing
import Evaluation

struct AnswerGraderTests {
    /// (model output, gold, expected extracted answer, expected verdict)
    static let cases: [(String, String, String?, Bool)] = [
        ("So the answer is \\boxed{42}.", "42", "42", true),
        ("First 3, then \\boxed{7}, finally \\boxed{8}", "8", "8", true),                // last box wins
        ("\\boxed{\\frac{1}{2}}", "0.5", "\\frac{1}{2}", true),                          // numeric compare
        ("\\boxed{\\dfrac{3}{4}}", "\\frac{3}{4}", "\\dfrac{3}{4}", true),
        ("\\boxed{\\frac12}", "\\frac{1}{2}", "\\frac12", true),
        ("\\boxed{-\\frac{2}{3}}", "-2/3", "-\\frac{2}{3}", true),
        ("\\boxed{\\left( 1, 2 \\right)}", "(1,2)", "\\left( 1, 2 \\right)", true),
        ("\\boxed{{a}^{2} + {b}}", "{a}^{2}+{b}", "{a}^{2} + {b}", true),                 // nested braces
        ("The result is -15", "-15", "-15", true),                                      // negative, no box
        ("19 + 49 - 83 = -15.", "-15", "-15", true),
        ("19 + 49 - 83 = 15", "-15", "15", false),                                      // sign matters
        ("It costs 1,000 dollars", "1000", "1,000", true),                              // thousands separator
        ("\\boxed{12 \\text{ cm}}", "12", "12 \\text{ cm}", true),                        // trailing unit
        ("\\boxed{90^\\circ}", "90", "90^\\circ", true),
        ("\\boxed{5.0}", "5", "5.0", true),
        ("\\boxed{3.}", "3", "3.", true),
        ("\\boxed{50\\%}", "50", "50\\%", true),
        ("no digits here", "4", nil, false),
        ("\\boxed{unbalanced", "4", nil, false),                                         // broken box, no number either
        ("\\boxed{x+1}", "x + 1", "x+1", true),                                          // string compare after spaces
        ("\\boxed{x+1}", "x+2", "x+1", false),
        ("\u{2212}7", "-7", "\u{2212}7", true),                                        // Unicode minus is not extracted by the number pattern...
        ("The answer is (C).", "C", "C", true),                                         // multiple choice
        ("\\boxed{B}", "B", "B", true),
        ("\\boxed{(D)}", "C", "D", false),
        ("$\\boxed{8}$ apples", "8", "8", true),                                        // box inside math mode
        ("\\boxed{1/2}", "\\frac{1}{2}", "1/2", true),                                   // a/b against \frac
        ("\\boxed{\\text{(A) } 5}", "5", "\\text{(A) } 5", false),                       // not a number after normalising
        ("so 3 + 4 = \\boxed{7}\n\nCheck: 7 - 4 = 3", "7", "7", true),                    // box beats a later number
    ]

    @Test func tableOfTrickyAnswers() {
        for (text, gold, answer, correct) in Self.cases {
            let g = AnswerGrader.grade(text, gold: gold)
            if text.hasPrefix("\u{2212}") {
                // ...the last number is "7"; documented: only ASCII '-' signs a bare number.
                #expect(g.answer == "7" && g.correct == false)
                continue
            }
            #expect(g.answer == answer, "answer of \(text.debugDescription)")
            #expect(g.correct == correct, "\(text.debugDescription) vs \(gold)")
        }
    }

    @Test func truncatedAnswerIsWrong() {
        #expect(AnswerGrader.grade("\\boxed{42}", gold: "42", truncated: true).correct == false)
        #expect(AnswerGrader.grade("\\boxed{42}", gold: "42", truncated: false).correct == true)
    }

    @Test func boxedMinusSignUnicode() {
        #expect(AnswerGrader.grade("\\boxed{\u{2212}7}", gold: "-7").correct)
    }
}
