//! The exposition formats: how it is written. Each format is an
//! [`encoder::Encoder`]; the metric sets write through it, so each family is written once for
//! every format.

pub mod encoder;
pub mod protobuf;
pub mod text;
