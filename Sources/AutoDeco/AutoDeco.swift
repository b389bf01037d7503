// The library product: everything a package needs to run models and decode, plus the
// paper's layer (the AutoDeco heads, their checkpoint format and controller, traces).
// It re-exports the layers below so `import AutoDeco` is the one import.
@_exported import Decoding
@_exported import Kernels
@_exported import ModelFiles
@_exported import Models
@_exported import Tokenizers
