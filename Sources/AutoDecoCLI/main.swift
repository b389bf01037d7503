import Foundation
import Models
import ModelFiles
let path = NSString(string: "~/.cache/autodeco/models/SmolLM2-135M-Instruct.Q4_1.gguf").expandingTildeInPath
let f = try GGUFFile(path: path)
let m = try LlamaModel(gguf: f, threads: 2)
let ids: [Int32] = [1,4093,198,1780,314,216,34,27,35,47,2,198,1,520,9531,198]
let ctx = m.makeContext(capacity: 1024)
var t0 = Date()
let out = try m.forward(ids, context: ctx, logits: .last)
print("prompt ms", Date().timeIntervalSince(t0)*1000)
let data = out.logits.withUnsafeBufferPointer { Data(buffer: $0) }
try data.write(to: URL(fileURLWithPath: "/tmp/p1_last.bin"))
let top = out.logits.enumerated().sorted { $0.element > $1.element }.prefix(5)
print(top)
// decode speed
var tok: Int32 = 28
t0 = Date()
for _ in 0..<64 { let o = try m.forward([tok], context: ctx, logits: .last); tok = Int32(o.logits.indices.max { o.logits[$0] < o.logits[$1] }!) }
print("tg t/s", 64 / Date().timeIntervalSince(t0))
let ctx2 = m.makeContext(capacity: 600)
let big = (0..<512).map { Int32(($0 * 7919) % 49000) }
t0 = Date()
_ = try m.forward(big, context: ctx2, logits: .last)
print("pp512 t/s", 512 / Date().timeIntervalSince(t0))
