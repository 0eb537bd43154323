//! Comparison. (Being written.)
