import Foundation
import Models
import ModelFiles
import Kernels
let path = NSString(string: "~/.cache/autodeco/models/SmolLM2-135M-Instruct.Q4_1.gguf").expandingTildeInPath
let f = try GGUFFile(path: path)
let nt = Int(CommandLine.arguments[1]) ?? 2
let m = try LlamaModel(gguf: f, threads: nt)
let ctx = m.makeContext(capacity: 1024)
var tok: Int32 = 28
for _ in 0..<16 { _ = try m.forward([tok], context: ctx, logits: .last) }
let t0 = Date()
for _ in 0..<128 { let o = try m.forward([tok], context: ctx, logits: .last); tok = Int32(o.logits.indices.max { o.logits[$0] < o.logits[$1] }!) }
print("threads", nt, "tg t/s", 128 / Date().timeIntervalSince(t0))
