// The library product: everything a package needs to run models and decode.
// The AutoDeco heads (the paper's layer) will live in this target; for now it
// re-exports the layers below so `import AutoDeco` is the one import.
@_exported import Decoding
@_exported import Kernels
@_exported import ModelFiles
@_exported import Models
@_exported import Tokenizers
