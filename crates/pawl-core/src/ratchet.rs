//! The ratchet. (Being written.)
